"""The pytest side of `--stack-impact`: save the recording after `--stack-coverage`, deselect before a run.

Saving: every process (xdist worker or the only one) reads the data its stacks
wrote (`.coverage.microstack.<run>-<worker>.*`, with their contexts) before
pytest-cov combines them away; workers send their share to the controller, which
adds the tests' outcomes and writes the file. Selecting: each process decides
from the same recording and diff (so xdist's workers agree), reports the
deselected tests as pytest does, and the controller prints the reasons.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_microstack._impact.recording import Part
from pytest_microstack._settings import StackSettings

WORKER_KEY = "microstack-impact"


class Impact:
    """Registered with the run state: records with --stack-coverage, selects with --stack-impact BASE.

    Reads no option itself: `settings` returns the run's settings as `read_settings`
    made them, or as the stack got them (a conftest's `stack_settings` override
    included), so `coverage`, `impact_base` and `impact_file` have one route each.
    """

    def __init__(self, config: pytest.Config, settings: Callable[[], StackSettings]) -> None:
        self.config = config
        self.settings = settings
        first = settings()
        self.run_id = first.run_id
        self.worker = first.worker
        self.base = first.impact_base
        self.part = Part()
        self.outcomes: dict[str, bool] = {}  # nodeid -> every phase passed so far
        self.lines: list[str] = []
        self.printed = False  # under xdist the controller collects nothing: it prints a worker's lines last
        self.seconds = 0.0

    def _recording(self) -> bool:
        """Measured: this process's stack had coverage on, or (xdist's controller) a worker's did."""
        return self.settings().coverage or bool(self.part.lines)

    # Selecting.
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.base is None:
            return
        from pytest_microstack._errors import ImpactError
        from pytest_microstack._impact.changes import toplevel
        from pytest_microstack._impact.selection import decide

        began = time.perf_counter()
        try:
            root = toplevel(config.rootpath)
            paths = {item.nodeid: _repository_path(item, root) for item in items}
            selection = decide(
                root,
                self.base,
                self.settings().impact_file,
                {path for path in paths.values() if path},
                ignore=[_relative(self.settings().impact_file, root) or ""],
            )
        except ImpactError as error:
            raise pytest.UsageError(str(error)) from None
        kept = [
            item
            for item in items
            if selection.selects(item.nodeid, paths[item.nodeid] or "", getattr(item, "fixturenames", ()))
        ]
        dropped = [item for item in items if item not in kept]
        recorded = selection.recording
        new = [item.nodeid for item in kept if recorded is not None and item.nodeid not in recorded.tests]
        self.seconds = time.perf_counter() - began
        self.lines = [f"stack-impact {self.base}: {reason}" for reason in selection.reasons]
        if new and not selection.everything:
            self.lines.append(f"stack-impact {self.base}: {len(new)} test(s) not in the recording")
        summary = "every test" if selection.everything else f"{len(kept)} of {len(items)} tests"
        self.lines.append(f"stack-impact {self.base}: selected {summary} ({self.seconds:.2f} s)")
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_report_collectionfinish(self) -> list[str]:
        self.printed = bool(self.lines)
        return self.lines

    # Recording.
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Every outcome, cheap: under xdist a worker's override may turn coverage on,
        # and the controller learns it only when the worker's data arrives, at the end.
        if self.worker == "main":
            self.outcomes[report.nodeid] = self.outcomes.get(report.nodeid, True) and report.passed

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Before pytest-cov's combine (a wrapper's second half): read this process's stack data."""
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None and self.lines:
            workeroutput[f"{WORKER_KEY}-lines"] = self.lines
        if not self._recording():
            return
        from pytest_microstack._coverage.pytest_side import destination
        from pytest_microstack._errors import ImpactError
        from pytest_microstack._impact.changes import toplevel

        try:
            root = toplevel(self.config.rootpath)
        except ImpactError:
            return  # not a git repository: nothing to select against later
        data_file = destination(self.config).data_file
        for path in sorted(
            data_file.parent.glob(f"{data_file.name}.microstack.{self.run_id}-{self.worker}.*")
        ):
            self.part.add_data_file(path, root)
        if workeroutput is not None:
            workeroutput[WORKER_KEY] = self.part.to_json()
            return
        self._save(root)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", None) or {}
        if output.get(WORKER_KEY):
            self.part.merge(Part.from_json(output[WORKER_KEY]))
        if output.get(f"{WORKER_KEY}-lines") and not self.lines:
            self.lines = list(output[f"{WORKER_KEY}-lines"])

    def _save(self, root: Path) -> None:
        from pytest_microstack._impact.changes import dirty, head
        from pytest_microstack._impact.recording import Recording, real_tests

        if not self.part.lines:
            return  # no stack ran: an older recording stays as it is
        path = self.settings().impact_file
        recording = Recording.build(
            self.part,
            commit=head(root),
            dirty=[name for name in dirty(root) if name != _relative(path, root)],
            tests=self.outcomes,
            passed=[nodeid for nodeid, passed in self.outcomes.items() if passed],
            root=root,
        )
        recording.save(path)
        self.printed = False
        self.lines = [f"stack-impact: recorded {len(real_tests(recording.tests))} tests' contexts in {path}"]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker == "main" and self.lines and not self.printed:
            for line in self.lines:
                terminalreporter.write_line(line)


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _repository_path(item: pytest.Item, root: Path) -> str | None:
    return _relative(Path(item.path), root)
