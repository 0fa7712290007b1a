"""The containers' data, with container paths mapped to source paths, as one data file here.

Mapping is coverage.py's own: the `[paths]` of the project's coverage
configuration (as `coverage combine` applies it), e.g.::

    [paths]
    source =
        src/
        /app/

A `[paths]` entry named after a service applies to that service's files only
(and before the others): two services whose images copy different code to the
same path (`/app/app.py`) are told apart that way. A file that maps to no file
here is left out and named in one warning (with the services that ran it),
never dropped silently. The result is a data file
named `<data_file>.microstack.<label>`: pytest-cov's combine step picks it up
(its reports then include the services' files), and so does `coverage combine`.
"""

from __future__ import annotations

import contextlib
import os
import random
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_microstack._errors import StackCoverageWarning

SUFFIX = "microstack"


@dataclass(frozen=True)
class Destination:
    """Where the containers' data goes, and the project's coverage settings it must agree with."""

    data_file: Path  # the base name: files are written as <data_file>.microstack.<label>.<n>
    paths: Mapping[str, Sequence[str]] = field(default_factory=dict)  # [paths]
    relative_files: bool = False
    run_settings: Mapping[str, Any] = field(default_factory=dict)  # [run] settings passed to containers
    joins_pytest_cov: bool = False

    @classmethod
    def from_config(cls, config: Any, base: Path, *, joins_pytest_cov: bool) -> Destination:
        """From a coverage `CoverageConfig` (pytest-cov's, or the project's read by coverage)."""
        return cls(
            data_file=base / config.data_file,
            paths={name: list(patterns) for name, patterns in config.paths.items()},
            relative_files=bool(config.relative_files),
            run_settings={
                "branch": bool(config.branch),
                "concurrency": list(config.concurrency or []),
                "omit": list(config.run_omit or []),
                "source_pkgs": list(config.source_pkgs or []),
                "timid": bool(config.timid),
            },
            joins_pytest_cov=joins_pytest_cov,
        )

    @classmethod
    def project_default(cls) -> Destination:
        """The project's own configuration and data file, found as `coverage` finds them: from here."""
        import coverage

        cov = coverage.Coverage(config_file=True)
        return cls.from_config(cov.config, Path.cwd().resolve(), joins_pytest_cov=False)


def _aliases(destination: Destination, service: str, services: Collection[str]) -> Callable[[str], str]:
    """coverage's own mapping: the entry named `service` first, then those named after no service."""
    from coverage.files import PathAliases

    aliases = PathAliases(relative=destination.relative_files)
    entries = [(name, patterns) for name, patterns in destination.paths.items() if name == service]
    entries += [(name, patterns) for name, patterns in destination.paths.items() if name not in services]
    for _, patterns in entries:
        result = patterns[0]
        for pattern in patterns[1:]:
            aliases.add(pattern, result)
    return aliases.map


@dataclass
class Combined:
    """What one stack's data became: the file written, the files reported and those left out."""

    written: Path | None
    reported: list[str]
    unmapped: dict[str, list[str]]  # container path -> services that ran it


@contextmanager
def _closed(data: Any) -> Iterator[Any]:
    """`data` (a CoverageData), closed afterwards: in memory too (force), which close() alone keeps open."""
    try:
        yield data
    finally:
        data.close(force=True)


def combine(raw: Mapping[str, Sequence[Path]], destination: Destination, label: str) -> Combined:
    """Map every service's data files (`raw`: service -> files) and write one data file.

    Written whole, with each line's contexts (the test phases that ran it, see
    `contexts`), less the files that map to no source here.
    """
    from coverage import CoverageData

    written = Path(f"{destination.data_file}.{SUFFIX}.{label}.{random.randrange(10**6):06d}")
    # Every CoverageData is closed when done: Python 3.13 warns (ResourceWarning) for each
    # SQLite connection left to the garbage collector, an error under filterwarnings=error.
    with _closed(CoverageData(no_disk=True)) as mapped:
        sources: dict[str, set[str]] = {}
        for service, files in raw.items():
            map_path = _aliases(destination, service, raw.keys())
            for path in files:
                with _closed(CoverageData(basename=str(path))) as data:
                    try:
                        data.read()
                    except Exception as error:  # noqa: BLE001 - a half-written file from a killed process
                        unreadable = f"stack coverage: {service}: unreadable data file {path}: {error}"
                        warnings.warn(StackCoverageWarning(unreadable), stacklevel=2)
                        continue
                    mapped.update(data, map_path=map_path)
                    for name in data.measured_files():
                        sources.setdefault(map_path(name), set()).add(service)
        measured = sorted(mapped.measured_files())
        reported = [name for name in measured if os.path.isfile(name)]
        unmapped = {name: sorted(sources.get(name, ())) for name in measured if name not in reported}
        if not reported:
            return Combined(None, reported, unmapped)
        with _closed(CoverageData(basename=str(written))) as out:
            out.loads(mapped.dumps())
            out.write()
    if unmapped:
        _drop_files(written, unmapped)
    return Combined(written, reported, unmapped)


def _drop_files(data_file: Path, names: Collection[str]) -> None:
    """Remove files from a data file, rows and name alike (coverage's purge_files keeps the name,
    which a report then looks for). Through coverage's documented schema (its "dbschema" page)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(data_file)) as db, db:
        ids = [row[0] for name in names for row in db.execute("SELECT id FROM file WHERE path = ?", (name,))]
        for table in ("line_bits", "arc", "tracer"):
            db.executemany(f"DELETE FROM {table} WHERE file_id = ?", [(i,) for i in ids])
        db.executemany("DELETE FROM file WHERE id = ?", [(i,) for i in ids])


def warn_unmapped(unmapped: Mapping[str, Sequence[str]], project: str) -> None:
    """One warning naming every measured file with no source here."""
    if not unmapped:
        return
    listed = "\n".join(f"  {name} ({', '.join(services)})" for name, services in sorted(unmapped.items()))
    warnings.warn(
        StackCoverageWarning(
            f"stack coverage ({project}): {len(unmapped)} file(s) measured in the containers map to no "
            f"source file here and are left out of the report; map them with [paths] in the project's "
            f"coverage configuration, or leave them out with [run] omit:\n{listed}"
        ),
        stacklevel=2,
    )
