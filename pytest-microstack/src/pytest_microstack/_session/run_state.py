"""One run's state, and every hook of the plugin, each implemented once.

Registered by `plugin.py` only when the project declares a stack. It owns the
run id (and hands it to xdist workers), the run's settings (read once, then the
ones its stack used: a conftest's `stack_settings` included), the stacks left
running, the failure reports and the end-of-run summary. Workers send their
part to the controller over one channel (`workeroutput`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Generator, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from pytest_microstack._core.reader import read_settings
from pytest_microstack._errors import SettingsError
from pytest_microstack._ownership import new_run_id
from pytest_microstack._reports.run_summary import AppliedFault, RunSummary
from pytest_microstack._settings import EXCHANGES_AUTO, StackSettings, TeardownPolicy

if TYPE_CHECKING:
    # The harness's own Stack (its compose project, start-up figures, waiting time).
    from pytest_microstack._core.stack import ComposeStack as Stack
    from pytest_microstack._engine.engine import Engine
    from pytest_microstack._errors import MachineNotReadyError
    from pytest_microstack._reports.masking import Masker

LOG = logging.getLogger(__name__)
RUN_ID_ENV = "MICROSTACK_RUN_ID"
# The one key of xdist's workerinput/workeroutput that carries this plugin's data.
WORKER_KEY = "microstack"
# Where this plugin's fixtures are defined: a fixture of that name from elsewhere is the project's own.
_FIXTURE_MODULES = ("pytest_microstack._session.fixtures", "pytest_microstack._session.doubles_fixture")


def run_id_from_environment() -> str:
    """$MICROSTACK_RUN_ID, else a random id: for tools that start runs and must find their stacks.

    The id names every project of the run (microstack-it-<id>-<worker>), so it
    must be unique among the runs alive at once.
    """
    given = os.environ.get(RUN_ID_ENV, "")
    if not given:
        return new_run_id()
    if not re.fullmatch(r"[a-z0-9]{1,24}", given):
        raise pytest.UsageError(f"{RUN_ID_ENV}={given!r}: use 1 to 24 lowercase letters and digits")
    return given


def uses_own_fixture(item: pytest.Item, name: str) -> bool:
    """Whether `name` is in the item's fixture closure and resolves to this plugin's fixture.

    A project may define a `stack` (or `faults`) fixture of its own: then it is
    not ours to mark, check or report on. An override that requests the fixture
    it overrides (`def stack(stack): ...`) still hands out ours underneath.
    """
    info = getattr(item, "_fixtureinfo", None)
    definitions = list(info.name2fixturedefs.get(name, ())) if info is not None else []
    while definitions:
        definition = definitions.pop()
        if getattr(getattr(definition, "func", None), "__module__", None) in _FIXTURE_MODULES:
            return True
        if name not in getattr(definition, "argnames", ()):
            return False  # the project's own, not built on ours
    return False


class RunState:
    """What one pytest run of the plugin knows, from configure to the terminal summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        workerinput = getattr(config, "workerinput", None)
        self.worker = workerinput["workerid"] if workerinput else "main"
        # A worker gets the controller's id; one whose controller never activated the
        # plugin (a stack declared only in a conftest below the rootdir) makes its own.
        given = (workerinput or {}).get(WORKER_KEY)
        self.run_id: str = given if given else run_id_from_environment()
        # Read once, here: a bad value is a usage error at start-up, not an error of
        # the first stack test. The `stack` fixture replaces them with the ones it used.
        try:
            self.settings = read_settings(config, run_id=self.run_id, worker=self.worker)
        except SettingsError as error:
            raise pytest.UsageError(str(error)) from None
        self.summary = RunSummary()
        self.kept: list[str] = []  # descriptions of stacks left running (--keep-stack/--reuse-stack)
        self.used_engine = False
        self.measured_coverage = False  # a stack of this run (or of a worker's) had coverage on
        self.sweep_at_end = True
        self.test_started: dict[str, float] = {}
        self.doubles_wanted = False  # a selected test uses `doubles`: "auto" exchanges turn on
        self.calls_finished: set[str] = set()
        self._machine: Engine | MachineNotReadyError | None = None
        self._junit_logs: dict[str, list[tuple[str, str]]] = {}  # nodeid -> its failed phases' service logs
        # Masks every channel pytest writes through (terminal, live logs, --log-file,
        # collection errors, warnings, JUnit XML): the host's secrets from the start,
        # each stack's own once it has started.
        self.run_masker = self.masker(None, self.settings.secrets)
        self._mask_channels()

    def machine_problem(self) -> MachineNotReadyError | None:
        """Why this machine can't run a stack (no engine, no access, no Compose v2, too old), or None.

        Checked once per run (process); the engine it connected is kept for the stack.
        """
        from pytest_microstack._errors import MachineNotReadyError

        if self._machine is None:
            from pytest_microstack._engine.preflight import check_machine

            try:
                self._machine = check_machine()
            except MachineNotReadyError as error:
                self._machine = error
        return self._machine if isinstance(self._machine, MachineNotReadyError) else None

    def machine(self) -> Engine:
        """The checked engine; else the run ends here with the one line that names cause and fix.

        However many tests wanted the stack: never a docker-py traceback per test.
        """
        problem = self.machine_problem()
        if problem is not None:
            pytest.exit(str(problem), returncode=pytest.ExitCode.USAGE_ERROR)
        assert self._machine is not None
        assert not isinstance(self._machine, BaseException)
        return self._machine

    def _mask_channels(self) -> None:
        """Mask what the terminal and pytest's log handlers write; idempotent, and again at session start,
        once pytest's logging plugin (configured last) exists."""
        from pytest_microstack._reports.masking import MaskingStream, mask_handler

        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        writer = getattr(reporter, "_tw", None)
        stream = getattr(writer, "_file", None)  # TerminalWriter writes everything through it
        if stream is not None and not isinstance(stream, MaskingStream):
            writer._file = MaskingStream(stream, self.run_masker)  # type: ignore[union-attr]
        logging_plugin = self.config.pluginmanager.get_plugin("logging-plugin")
        for name in ("log_file_handler", "log_cli_handler"):  # not caplog's: tests may look for values
            handler = getattr(logging_plugin, name, None)
            if isinstance(handler, logging.Handler):
                mask_handler(handler, self.run_masker)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._mask_channels()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, None]:
        """Collection errors (a conftest or module failing at import) are masked like test reports."""
        outcome = yield
        self.run_masker.report(outcome.get_result())

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: Any) -> None:
        """Before the terminal's warnings summary stores its text."""
        self.run_masker.warning(warning_message)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """The JUnit XML, written at session finish: masked as a file, which also covers
        `record_xml_attribute` and `record_testsuite_property` (written around the reports)."""
        from pytest_microstack._reports.masking import mask_file

        xml = getattr(config.option, "xmlpath", None)
        if xml and os.path.isfile(xml):
            try:
                mask_file(xml, self.run_masker)
            except OSError:
                LOG.exception("the JUnit XML %s could not be masked", xml)

    # What the fixtures tell it.
    def stack_starting(self, settings: StackSettings) -> StackSettings:
        """The settings `stack` got (a conftest's own included), "auto" exchanges decided: the rest of
        the run follows them."""
        if settings.exchanges == EXCHANGES_AUTO:
            settings = replace(settings, exchanges=self.doubles_wanted)
        self.settings = settings
        self.measured_coverage = self.measured_coverage or settings.coverage
        return settings

    def stack_opened(self, stack: Stack) -> None:
        self.used_engine = True
        self.run_masker.add(self.masker(stack, self.settings.secrets).values)
        # Only WAIT sweeps again at the end: a reaper sweeps after removing the stack, and a
        # kept stack is for a developer who doesn't wait.
        self.sweep_at_end = self.settings.teardown is TeardownPolicy.WAIT
        self._record_engine(stack)
        if stack.startup:
            self.summary.record_start(stack.startup)
        else:
            self.summary.stacks_reused += 1  # attached to a kept stack: nothing started

    def stack_closed(self, stack: Stack) -> None:
        self.summary.waiting_seconds += stack.waited
        if self.settings.teardown.keeps_stack:
            from pytest_microstack._keep.kept import describe_kept

            self.kept.append(describe_kept(stack))

    def faults_done(self, faults: Iterable[AppliedFault]) -> None:
        self.summary.record_faults(faults)

    def start_failed(self, stack: Stack, error: Exception) -> None:
        self.used_engine = True
        self.summary.start_failures += 1
        self._record_engine(stack)
        what_failed = f"start-up failed:\n{error}"
        self.save_report(stack, self.settings.secrets, f"startup-{stack.project}", what_failed)

    def _record_engine(self, stack: Stack) -> None:
        try:
            self.summary.record_engine(str(stack.engine_info))
        except Exception:  # the summary must never fail the run
            LOG.debug("the engine's version could not be read", exc_info=True)

    def call_finished(self, item: pytest.Item) -> bool:
        """Whether the test's own call ended (false when Ctrl-C or SIGTERM cut it short)."""
        return item.nodeid in self.calls_finished

    def save_report(self, stack: Stack, secret_names: Iterable[str], label: str, what_failed: str) -> None:
        """Save a failure report; a report that can't be written is logged, never raised."""
        from pytest_microstack._reports.failure_report import folder_name, save_report

        masker = self.masker(stack, secret_names)
        folder = self.settings.artifacts
        try:
            path = save_report(stack, folder / folder_name(label), masker, what_failed)
        except OSError:
            LOG.exception("failure report for %s could not be written under %s", label, folder)
            return
        self.summary.reports.append(str(path))

    def masker(self, stack: Stack | None, secret_names: Iterable[str]) -> Masker:
        """Masks the host's secrets and, with a stack, the run's: for reports and their files alike."""
        from pytest_microstack._reports.masking import Masker, run_secret_values

        environment = stack.compose.environment if stack is not None else {}
        return Masker(run_secret_values(environment, secret_names))

    # xdist: the run id goes out to the workers, their part comes back.
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_KEY] = self.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        part = (getattr(node, "workeroutput", None) or {}).get(WORKER_KEY)
        if part:
            self.kept.extend(part["kept"])
            self.measured_coverage = self.measured_coverage or bool(part["coverage"])
            self.summary.merge(RunSummary.from_dict(part["summary"]))

    # Tests.
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Tests that use the stack, directly or through any fixture, are integration tests."""
        for item in items:
            if uses_own_fixture(item, "stack"):
                item.add_marker(pytest.mark.integration)
            if uses_own_fixture(item, "faults"):
                item.add_marker(pytest.mark.faults)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Once selection is final (-k, -m, --stack-impact): whether any test that will run uses `doubles`."""
        self.doubles_wanted = any(uses_own_fixture(item, "doubles") for item in session.items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        """Before the first test: a run with stack tests checks the machine can run a stack."""
        if session.config.option.collectonly or getattr(session.config.option, "setupplan", False):
            return None  # nothing will run
        if not any(uses_own_fixture(item, "stack") for item in session.items):
            return None
        if self.worker != "main":
            # An xdist worker can't end the run (pytest.exit there is a crash): it stops, and
            # the controller ends the run with this line ("Interrupted: ...").
            problem = self.machine_problem()
            if problem is not None:
                session.shouldstop = str(problem)
                return True  # none of this worker's tests run
            return None
        self.machine()
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.test_started[item.nodeid] = time.time()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        """A failed test that used the stack gets its services' logs and a saved failure report.

        Every report is masked last (tryfirst: the outermost wrapper), so the
        terminal, the JUnit XML and xdist's controller only ever see masked text.
        """
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if report.when == "call":
            self.calls_finished.add(item.nodeid)
        funcargs = getattr(item, "funcargs", {})
        stack = funcargs.get("stack") if uses_own_fixture(item, "stack") else None
        secret_names: tuple[str, ...] = getattr(funcargs.get("stack_settings"), "secrets", ())
        masker = self.masker(stack, secret_names)
        masker.add(self.run_masker.values)
        if report.failed and stack is not None:
            try:
                self._report_failure(item, report, stack, secret_names)
            except Exception as error:  # noqa: BLE001 - an engine gone mid-run: the test's failure says enough
                report.sections.append(("microstack", f"no service logs or failure report: {error}"))
        masker.report(report)

    def _report_failure(
        self, item: pytest.Item, report: pytest.TestReport, stack: Stack, secret_names: tuple[str, ...]
    ) -> None:
        since = self.test_started.get(item.nodeid)
        for service in stack.services:
            logs = stack.logs(service, since=since)
            report.sections.append((f"{service} logs during {report.when}", logs))
        label = item.nodeid if report.when == "call" else f"{item.nodeid}-{report.when}"
        what = f"test: {item.nodeid}\nphase: {report.when}\n\n{report.longreprtext}"
        self.save_report(stack, secret_names, label, what)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, Any, None]:
        """With --junitxml, a failed test's service logs become its test case's `<system-out>`.

        Runs where the XML is written (xdist's controller), from the report's
        sections, masked when the report was made. Added once pytest's junitxml
        closed the test case (at teardown), so they follow its failure or error.
        """
        if not getattr(self.config.option, "xmlpath", None):
            yield
            return
        from pytest_microstack._reports import junit

        if report.failed:
            self._junit_logs.setdefault(report.nodeid, []).extend(junit.service_log_sections(report))
        closing = report.when == "teardown" and bool(self._junit_logs.get(report.nodeid))
        testcase = junit.open_testcase(self.config, report) if closing else None
        yield
        if report.when == "teardown":
            sections = self._junit_logs.pop(report.nodeid, [])
            if testcase is not None and sections:
                junit.add_system_out(testcase, junit.render(sections))

    # The end of the run.
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Backstop after pytest's teardown of session fixtures; then a worker reports to the controller."""
        if self.used_engine:
            self._backstop(exitstatus)
        else:
            # A start-up cut short by Ctrl-C never opened a stack, yet its teardown may be
            # registered (started on a thread by the signal): finish it here, while the
            # interpreter can still run it, not at exit.
            from pytest_microstack._cleanup import backstop

            backstop.run_all()
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_KEY] = {
                "kept": self.kept,
                "coverage": self.measured_coverage,
                "summary": self.summary.to_dict(),
            }

    def _backstop(self, exitstatus: int) -> None:
        from pytest_microstack._cleanup import backstop
        from pytest_microstack._core.lifecycle import sweep_leftovers

        backstop.run_all()
        if not self.sweep_at_end:
            return
        if exitstatus != pytest.ExitCode.INTERRUPTED:
            # Again at the end: a run killed while this one started may have still
            # been dying then. Its leftovers are gone once this run ends. Never a
            # reason to fail a finished run (an INTERNALERROR here would hide its result).
            try:
                sweep_leftovers()
            except Exception:  # the engine went away: the next run's sweep tries again
                LOG.warning("the end-of-run sweep of dead runs' leftovers failed", exc_info=True)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.kept:
            terminalreporter.write_sep("-", "stacks left running")
            for description in self.kept:
                terminalreporter.write_line(description)
        lines = self.summary.render()
        if self.measured_coverage and lines:  # a stack was started (here or on a worker)
            from pytest_microstack._coverage.pytest_side import summary_lines

            lines += summary_lines(self.config, self.run_id)
        if lines:
            terminalreporter.write_sep("-", "microstack")
            for line in lines:
                terminalreporter.write_line(line)
