"""Build a project's images before its tests run: `python -m pytest_microstack.prebuild [CONFIG]`.

CONFIG is the project's pytest configuration file (pytest.ini, pyproject.toml,
tox.ini, setup.cfg) or a folder; by default the file pytest itself would use
when run in the current folder.

For CI jobs that run shards or xdist workers: the build gets a step and a log
of its own, and the first test of each worker doesn't spend its timeout on it.
It builds exactly what the tests would (the same tags by input digest, under
the same lock), and only what is missing, so the tests then build nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pytest_microstack._core.lifecycle import prepare_images
from pytest_microstack._core.reader import read_settings
from pytest_microstack._errors import SettingsError
from pytest_microstack._ownership import new_run_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_microstack.prebuild", description=__doc__)
    parser.add_argument(
        "ini",
        nargs="?",
        default=Path(),
        type=Path,
        help="the pytest configuration file declaring the stack, or a folder to find it from as pytest "
        "does (default: the current folder)",
    )
    args = parser.parse_args(argv)
    if not args.ini.exists():
        parser.error(f"{args.ini}: no such file or folder")
    try:
        settings = read_settings(args.ini.resolve(), run_id=new_run_id(), worker="prebuild")
    except SettingsError as error:
        parser.error(str(error))
    started = time.monotonic()
    plan = prepare_images(settings)
    sys.stdout.write(f"images ready in {time.monotonic() - started:.1f} s:\n")
    for service, image in sorted(plan.images.items()):
        sys.stdout.write(f"  {service}: {image}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
