"""Remove the stack images the harness built and no longer needs: `python -m pytest_microstack.prune`.

Keeps, per image repository, the newest `it-<digest>` tag and every tag a
container uses; removes the other `it-<digest>` tags (older inputs of the same
service) and those of the per-run names (`microstack-it-<run>-<worker>-<service>`)
that earlier versions gave services without `image:`. Only images this checkout
built (labelled with its folder, `--root`, default the current folder) are
considered: another clone's images are never touched. `--dry-run` only lists.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_microstack._engine.engine import connect
from pytest_microstack._engine.prune import prune_images


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_microstack.prune", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    parser.add_argument(
        "--repository",
        action="append",
        default=[],
        metavar="NAME",
        help="only this image repository (repeatable), e.g. example_project-web",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="the checkout whose images are pruned: its root folder, where pytest runs (default: here)",
    )
    args = parser.parse_args(argv)
    result = prune_images(connect().client, args.repository, root=args.root, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for tag in sorted(result.removed):
        sys.stdout.write(f"{verb} {tag}\n")
    sys.stdout.write(f"{verb} {len(result.removed)} image tags, kept {len(result.kept)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
