"""What the release and package sessions compute: the notes of a version, the declared floors,
and the Python to build a fresh virtualenv with.

Pure functions of files (the CHANGELOG, the plugin's pyproject.toml, a pyenv folder), so
each is unit-tested (tests/tools/test_release.py) apart from the sessions that use them.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from packaging.requirements import Requirement


def changelog_section(changelog: str, version: str) -> str:
    """The body of `## [version]` in a Keep a Changelog file; ValueError when it has none."""
    lines = changelog.splitlines()
    heading = f"## [{version}]"
    starts = [index for index, line in enumerate(lines) if line.startswith(heading)]
    if not starts:
        raise ValueError(f"the changelog has no section {heading}")
    body = []
    for line in lines[starts[0] + 1 :]:
        if line.startswith("## [") or (line.startswith("[") and "]: " in line):
            break
        body.append(line)
    text = "\n".join(body).strip()
    if not text:
        raise ValueError(f"the changelog's section {heading} is empty")
    return text + "\n"


def floors(pyproject: Path) -> list[str]:
    """`name==X` for each `name>=X` of a project's dependencies, extras and build requirements.

    ValueError, naming the line, for a requirement without exactly one `>=` floor: `nox -s
    minimums` proves the floors, so each must be written.
    """
    project = tomllib.loads(pyproject.read_text())
    optional = project["project"].get("optional-dependencies", {})
    extras = [line for lines in optional.values() for line in lines]
    pins = []
    for line in [*project["project"]["dependencies"], *extras, *project["build-system"]["requires"]]:
        requirement = Requirement(line)
        found = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(found) != 1:
            raise ValueError(f"{pyproject}: {line!r} needs exactly one >= floor for nox -s minimums")
        pins.append(f"{requirement.name}=={found[0]}")
    return pins


def interpreter(version: str, pyenv_root: Path) -> str | None:
    """The newest pyenv build of Python `version` (3.12 -> 3.12.10 over 3.12.9), else
    `python<version>` on PATH (CI's setup-python); None when neither is there."""
    builds = sorted(
        pyenv_root.glob(f"versions/{version}.*/bin/python{version}"),
        key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
    )
    if builds:
        return str(builds[-1])
    return shutil.which(f"python{version}")
