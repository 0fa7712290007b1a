"""Sessions for local runs and CI alike: `nox` runs lint, unit and both integration runs.

Every session runs in the project's .venv, which scripts/bootstrap builds from
the hash-locked requirements/dev.txt: one environment, checked against one lock
file, and no per-session install, so two runs started at the same moment from
one checkout (or a CI matrix) never race to build the same virtualenv. The
integration sessions need a Docker engine and compose v2: scripts/bootstrap
prepares both.

Each integration session writes its JUnit XML and failure reports into
.artifacts/<session>/ (.artifacts/integration-shard-I-of-N/ for a shard), emptied
when the session starts; CI uploads that folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import nox

ROOT = Path(__file__).parent
VENV_BIN = ROOT / ".venv" / "bin"
VENV_PYTHON = VENV_BIN / "python"
ARTIFACTS = ROOT / ".artifacts"
WORKFLOWS = sorted(str(path.relative_to(ROOT)) for path in (ROOT / ".github" / "workflows").glob("*.yml"))
DEFAULT_ENGINE_SOCKET = "/var/run/docker.sock"
# The load run (tests/load) uses the stack too, but is minutes of full load:
# only `nox -s load` selects it.
INTEGRATION = "integration and not load"
# What the integration sessions run (paths in posargs replace "tests").
INTEGRATION_SELECTION = ("-m", INTEGRATION, "tests")
# Examples per operation for the long schema-fuzzing run (the default run has 25).
FUZZ_MAX_EXAMPLES = "300"
ENGINE_ANSWER_TIMEOUT = 10.0  # seconds for socat to listen and the engine to answer through it
SERVICES = ["services/servicekit", "services/user-service", "services/product-service"]
SERVICE_TESTS = [f"{service}/tests" for service in SERVICES]
PLUGIN = "pytest-microstack"
# One mypy run per project: the plugin and each service have a tests/conftest.py of
# their own (a `conftest` module twice in one run is refused).
TYPED_CODE = [
    ["conftest.py", "noxfile.py", "tests", "bench"],
    [f"{PLUGIN}/src", f"{PLUGIN}/tests"],
    *([service] for service in SERVICES),
]

nox.options.sessions = ["lint", "unit", "plugin", "integration", "integration_parallel"]
nox.options.default_venv_backend = "none"


def _python(session: nox.Session, *args: str, env: Mapping[str, str] | None = None) -> None:
    if not VENV_PYTHON.exists():
        session.error("no .venv: run scripts/bootstrap first")
    session.run(str(VENV_PYTHON), *args, external=True, env=dict(env or {}))


def _names_a_path(arg: str) -> bool:
    return not arg.startswith("-") and Path(arg.split("::", 1)[0]).exists()


def _paths_given(session: nox.Session) -> bool:
    return any(_names_a_path(arg) for arg in session.posargs)


def _run_pytest(
    session: nox.Session, *args: str, paths: tuple[str, ...] = (), env: Mapping[str, str] | None = None
) -> None:
    """pytest with `args`, then posargs; paths in posargs replace the default `paths`."""
    given = _paths_given(session)
    _python(session, "-m", "pytest", *args, *([] if given else paths), *session.posargs, env=env)


def _option_value(args: list[str], name: str) -> str | None:
    """The value of `--name V` or `--name=V` among pytest arguments."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def _run_artifacts(session: nox.Session, name: str) -> list[str]:
    """--stack-artifacts and --junitxml into .artifacts/<name>[-shard-I-of-N], unless posargs choose them."""
    args = list(session.posargs)
    splits, group = _option_value(args, "--splits"), _option_value(args, "--group")
    folder = ARTIFACTS / (f"{name}-shard-{group}-of-{splits}" if splits and group else name)
    chosen = []
    if _option_value(args, "--stack-artifacts") is None:
        shutil.rmtree(folder, ignore_errors=True)
        chosen += ["--stack-artifacts", str(folder)]
    if not any(arg.startswith(("--junitxml", "--junit-xml")) for arg in args):
        chosen.append(f"--junitxml={folder / 'junit.xml'}")
    return chosen


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything; mypy (strict) on the plugin, services, tests, bench, conftest and noxfile."""
    _python(session, "-m", "ruff", "check", ".")
    _python(session, "-m", "ruff", "format", "--check", ".")
    for paths in TYPED_CODE:
        _python(session, "-m", "mypy", *paths)
    # The CI workflow: against GitHub's schema (vendored in check-jsonschema), and zizmor's audits.
    _python(session, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    session.run(str(VENV_BIN / "zizmor"), "--offline", *WORKFLOWS, external=True)


@nox.session
def unit(session: nox.Session) -> None:
    """The services' unit tests (Flask test client) and the plugin's own, no Docker needed."""
    paths = (*SERVICE_TESTS, f"{PLUGIN}/tests/unit", "tests/unit", "tests/ci")
    _run_pytest(session, "-m", "not integration", paths=paths)


@nox.session
def plugin(session: nox.Session) -> None:
    """The plugin against the real engine, as other projects use it: its example project
    (through pytester and the installed entry point), start-up failures, signals and leaks."""
    _run_pytest(session, "-m", "integration", paths=(f"{PLUGIN}/tests",))


@nox.session
def integration(session: nox.Session) -> None:
    """The whole stack through Testcontainers' compose: flow, scenarios, failure cases,
    hostile input, container hardening and a bounded schema-fuzzing run.

    Extra arguments go to pytest: `nox -s integration -- -n 2 -k faults`; a path
    among them replaces the default `tests`: `nox -s integration -- tests/scenarios`.
    One shard of a split run (pytest-split, by .test_durations):
    `nox -s integration -- --splits 3 --group 2`.
    """
    _run_pytest(session, "-m", INTEGRATION, *_run_artifacts(session, "integration"), paths=("tests",))


@nox.session
def integration_parallel(session: nox.Session) -> None:
    """The integration suite on two xdist workers, each with a stack of its own.

    --dist worksteal: an idle worker takes half of the other's queue, so the run
    doesn't end on one worker finishing its share of fault tests alone (3 paired
    runs against the default --dist load: 35-37 s against 42-43 s, load 9).
    """
    reports = _run_artifacts(session, "integration_parallel")
    _run_pytest(session, "-m", INTEGRATION, "-n", "2", "--dist", "worksteal", *reports, paths=("tests",))


@nox.session
def durations(session: nox.Session) -> None:
    """Run the integration suite serially and record each test's duration in .test_durations.

    pytest-split balances the shards by these; commit the file. Run with a path,
    it only updates the tests that ran.
    """
    clean = [] if _paths_given(session) else ["--clean-durations"]
    _run_pytest(session, "-m", INTEGRATION, "--store-durations", *clean, paths=("tests",))


@nox.session
def images(session: nox.Session) -> None:
    """Build the stack's images as the tests tag them, only those missing: CI's build step.

    Takes no arguments, so `nox -s images integration -- ...` passes them to pytest only.
    """
    _python(session, "-m", "pytest_microstack.prebuild", "pytest.ini")


@nox.session
def junit_report(session: nox.Session) -> None:
    """Merge the shards' JUnit files; check that every integration test ran in exactly one shard.

    `nox -s junit_report -- SHARD.xml... [--output MERGED.xml] [--summary FILE]`;
    with no arguments, the shards under .artifacts/, merged into .artifacts/junit.xml.
    Unless `--expect UNSHARDED.xml` is given, the shards are compared with the
    integration suite as collected here (no Docker needed).
    """
    args = list(session.posargs)
    if not args:
        args = sorted(str(path) for path in ARTIFACTS.glob("integration-shard-*/junit.xml"))
        if not args:
            session.error(
                "no shard's JUnit file under .artifacts/: run nox -s integration -- --splits N --group I"
            )
        args += ["--output", str(ARTIFACTS / "junit.xml")]
    if not any(arg.startswith("--expect") for arg in args):
        collected = session.run(
            str(VENV_PYTHON),
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *INTEGRATION_SELECTION,
            external=True,
            silent=True,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        nodeids = ARTIFACTS / "collected-integration.txt"
        nodeids.write_text(str(collected))
        args += ["--expect-nodeids", str(nodeids)]
    _python(session, "-m", "tests.ci.junit_report", *args)


@nox.session
def remote_engine(session: nox.Session) -> None:
    """The integration suite with DOCKER_HOST=tcp://127.0.0.1:PORT: the same engine, reached as a remote one.

    socat forwards a free loopback port to the engine's socket for this session
    only (any local user can reach it meanwhile: a test machine's tool, never on
    a shared one), and is stopped when the session ends. Needs socat: apt-get
    install socat. Extra arguments go to pytest, as for `integration`.
    """
    with _engine_over_tcp(session) as docker_host:
        reports = _run_artifacts(session, "remote_engine")
        _run_pytest(session, "-m", INTEGRATION, *reports, paths=("tests",), env={"DOCKER_HOST": docker_host})


def _local_engine_socket() -> str:
    docker_host = os.environ.get("DOCKER_HOST", "")
    return docker_host.removeprefix("unix://") if docker_host.startswith("unix://") else DEFAULT_ENGINE_SOCKET


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _engine_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_ping", timeout=1) as response:
            return bool(response.read() == b"OK")
    except OSError:
        return False


@contextmanager
def _engine_over_tcp(session: nox.Session) -> Iterator[str]:
    """socat on 127.0.0.1:<free port> to the local engine's socket; yields the DOCKER_HOST for it."""
    socat = shutil.which("socat")
    if socat is None:
        session.error("socat is not installed: apt-get install socat (Debian/Ubuntu), then run this again")
    engine_socket = _local_engine_socket()
    port = _free_loopback_port()
    command = [socat, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", f"UNIX-CONNECT:{engine_socket}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + ENGINE_ANSWER_TIMEOUT
        while not _engine_answers(f"http://127.0.0.1:{port}"):
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                session.error(
                    f"the engine did not answer through socat on 127.0.0.1:{port}: {stderr.strip()}"
                )
            time.sleep(0.05)  # polling socat's port under the deadline above
        session.log(f"engine at tcp://127.0.0.1:{port} (socat pid {process.pid} -> {engine_socket})")
        yield f"tcp://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@nox.session
def fuzz(session: nox.Session) -> None:
    """The schema fuzzer at length: FUZZ_MAX_EXAMPLES per operation (300 unless set), seeded.

    `FUZZ_SEED=N nox -s fuzz` explores other cases; the count sent is printed at the end.
    """
    session.env["FUZZ_MAX_EXAMPLES"] = os.environ.get("FUZZ_MAX_EXAMPLES", FUZZ_MAX_EXAMPLES)
    _run_pytest(session, "-m", "integration", paths=("tests/fuzz",))


@nox.session
def load(session: nox.Session) -> None:
    """The full flow under load on a stack of its own; figures to bench/results/load.{json,md}.

    Needs wrk (scripts/bootstrap installs it as root). What it runs: tests/load/test_load.py.
    """
    _run_pytest(session, "-m", "load", "-p", "no:xdist", paths=("tests/load",))


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark figure side by side (about 15 minutes): prints them, the ratios and issue 11's
    targets (each met or its gap), writes bench/results/bench.json and regenerates BENCHMARKS.md.

    `nox -s bench -- --runs 1 --skip suite,suite-serial,cold-build` for a quick look (that
    too rewrites both files); `python -m bench.report` regenerates BENCHMARKS.md from the JSON.
    """
    _python(session, "-m", "bench", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """Many integration runs, about half killed (SIGINT, SIGTERM, SIGKILL) at chosen phases; then
    0 leaked containers, networks and volumes, and 0 failures among the runs not killed.

    Not in the default sessions: bounded by `-- --minutes 40 --runs 60` (the defaults).
    Prints a table and writes bench/results/soak.json (BENCHMARKS.md shows it). A test of the
    plugin's cleanup, so it lives with the plugin's tests: pytest-microstack/tests/soak/.
    """
    _python(session, "-m", "soak", *session.posargs, env={"PYTHONPATH": str(ROOT / PLUGIN / "tests")})
