"""Where an integration session's reports go: .artifacts/<session>/, or a shard's own folder.

CI uploads that folder; a shard's name says which (`--splits N --group I` ->
<session>-shard-I-of-N), so parallel shards never write over each other.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path


def option_value(args: Sequence[str], name: str) -> str | None:
    """The value of `--name V` or `--name=V` among pytest arguments."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def report_folder(artifacts: Path, name: str, args: Sequence[str]) -> Path:
    """.artifacts/<name>, or .artifacts/<name>-shard-I-of-N for a shard of a split run."""
    splits, group = option_value(args, "--splits"), option_value(args, "--group")
    return artifacts / (f"{name}-shard-{group}-of-{splits}" if splits and group else name)


def report_args(artifacts: Path, name: str, args: Sequence[str]) -> list[str]:
    """--stack-artifacts (into a folder emptied first) and --junitxml, unless `args` choose them."""
    folder = report_folder(artifacts, name, args)
    chosen = []
    if option_value(args, "--stack-artifacts") is None:
        shutil.rmtree(folder, ignore_errors=True)
        chosen += ["--stack-artifacts", str(folder)]
    if not any(arg.startswith(("--junitxml", "--junit-xml")) for arg in args):
        chosen.append(f"--junitxml={folder / 'junit.xml'}")
    return chosen
