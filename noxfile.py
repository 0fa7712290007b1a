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

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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
DEPENDABOT = ".github/dependabot.yml"
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
    ["conftest.py", "noxfile.py", "tests", "bench", "tools"],
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
    _python(session, "-m", "check_jsonschema", "--builtin-schema", "vendor.dependabot", DEPENDABOT)
    session.run(str(VENV_BIN / "zizmor"), "--offline", *WORKFLOWS, DEPENDABOT, external=True)


@nox.session
def unit(session: nox.Session) -> None:
    """The services' unit tests (Flask test client) and the plugin's own, no Docker needed."""
    paths = (*SERVICE_TESTS, f"{PLUGIN}/tests/unit", "tests/unit", "tests/ci", "tests/tools")
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
def coverage(session: nox.Session) -> None:
    """Coverage of services/*/src from the unit tests, then with the integration suite added
    (measured inside the containers: --stack-coverage, on two xdist workers); fails under the
    minimum in pyproject.toml. Reports: terminal, .artifacts/coverage/{coverage.xml,html/}.

    Extra arguments go to the integration run's pytest, as for `integration`.
    """
    folder = ARTIFACTS / "coverage"
    measured = [f"--cov={service}/src" for service in SERVICES]
    _python(session, "-m", "coverage", "erase")
    # The unit tests alone: reported, not held to the minimum (that is for both together).
    _python(
        session,
        "-m",
        "pytest",
        "-m",
        "not integration",
        *measured,
        "--cov-report=term",
        "--cov-fail-under=0",
        *SERVICE_TESTS,
    )
    reports = [f"--cov-report=xml:{folder / 'coverage.xml'}", f"--cov-report=html:{folder / 'html'}"]
    _run_pytest(
        session,
        "-m",
        INTEGRATION,
        "-n",
        "2",
        "--stack-coverage",
        *measured,
        "--cov-append",
        "--cov-report=term-missing:skip-covered",
        *reports,
        *_run_artifacts(session, "coverage"),
        paths=("tests",),
    )


@nox.session
def mutation_plugin(session: nox.Session) -> None:
    """Mutation testing of the plugin's safety-critical modules (not in the default run).

    mutmut (pinned in requirements/dev.txt) over readiness, ownership,
    leftovers, removal, masking, override and prune ([tool.mutmut] in the plugin's
    pyproject.toml), with the plugin's in-process unit tests, from a fresh
    mutants/ folder; then tests/mutation/score.py prints the score per module
    and fails under 90 % killed. Survivors judged equivalent are listed, each
    with its reason, in tests/mutation/equivalent.toml. One module only, by hand
    (in pytest-microstack/): `mutmut run --max-children 2 "pytest_microstack._engine.prune*"`,
    then score.py, whose line for that module counts (the others', not run, fail).
    """
    session.chdir(PLUGIN)
    shutil.rmtree("mutants", ignore_errors=True)  # no result carried over from other code
    session.run(str(VENV_BIN / "mutmut"), "run", "--max-children", "2", external=True)
    _python(session, "tests/mutation/score.py")


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


@nox.session
def remote_engines(session: nox.Session) -> None:
    """Two engines on "other machines": each a dockerd in a network namespace of its own (tools/netns_engine).

    The integration suite runs on the first over tcp://ADDR:2375, then one file of it with
    --stack-coverage (data back through the engine's API); on the second, the plugin's
    example project over ssh://root@ADDR (the rig's sshd and key) and its Ctrl-C, SIGTERM
    and SIGKILL tests over tcp://; then neither engine may hold a container, volume or
    network. Images come from the local engine
    (docker save | load), nothing is pulled; traffic goes only to the namespaces' own
    addresses and 127.0.0.1. Everything is removed after, failures included. Needs root,
    iproute2 and openssh-server; not in the default run. Extra arguments go to the
    suite's pytest, as for `integration`.
    """
    sys.path.insert(0, str(ROOT))  # nox loads this file by path: tools/ is the checkout's
    from tools.netns_engine.rig import rig
    from tools.netns_engine.run import RigError

    base_image = _dotenv_value("BASE_IMAGE") or "docker.io/library/python:3.11-slim-bookworm"
    try:
        with rig(2, [base_image], log=session.log) as engines:
            tcp, ssh = engines.engines
            reports = _run_artifacts(session, "remote_engines")
            env = {"DOCKER_HOST": tcp.tcp_url}
            _run_pytest(session, "-m", INTEGRATION, *reports, paths=("tests",), env=env)
            _remote_coverage(session, env)
            ssh_env = {"DOCKER_HOST": ssh.ssh_url, "PATH": f"{engines.ssh_path}:{os.environ['PATH']}"}
            _example_project(session, ssh_env)
            # Ctrl-C, SIGTERM and SIGKILL (then the next run's sweep) of a run holding a stack there.
            signals = f"{PLUGIN}/tests/engine/test_signals.py"
            _python(session, "-m", "pytest", "-m", "integration", signals, env={"DOCKER_HOST": ssh.tcp_url})
            for engine in engines.engines:
                left = {kind: names for kind, names in engine.objects().items() if names}
                if left:
                    session.error(f"{engine.name} still holds {left} after the runs")
                session.log(f"{engine.name}: no containers, volumes or networks left")
    except RigError as error:
        session.error(str(error))


def _example_project(session: nox.Session, env: Mapping[str, str]) -> None:
    """The plugin's example project, an outside project, run in a copy as its users run it."""
    with tempfile.TemporaryDirectory(prefix="remote-example-") as folder:
        project = Path(folder) / "example"
        shutil.copytree(ROOT / PLUGIN / "tests" / "example_project", project)
        base_image = _dotenv_value("BASE_IMAGE")
        (project / ".env").write_text(f"BASE_IMAGE={base_image}\n" if base_image else "")
        args = ("-p", "no:cacheprovider", "--rootdir", str(project), str(project))
        _python(session, "-m", "pytest", *args, env=env)


def _remote_coverage(session: nox.Session, env: Mapping[str, str]) -> None:
    """--stack-coverage on a remote engine: data must come back (through its API) for one test file."""
    started = time.time()
    _python(session, "-m", "pytest", "--stack-coverage", "tests/test_inter_service_flow.py", env=env)
    found = [path for path in ROOT.glob(".coverage.microstack.*") if path.stat().st_mtime >= started]
    if not found:
        session.error("--stack-coverage on the remote engine brought back no data file")
    folder = ARTIFACTS / "remote_engines" / "coverage"
    folder.mkdir(parents=True, exist_ok=True)
    for path in found:
        path.rename(folder / path.name)
    session.log(f"stack coverage from the remote engine: {len(found)} data file(s) in {folder}")


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
def attacks(session: nox.Session) -> None:
    """Issue 24's attack scripts, each against a fresh local gunicorn of user-service on 127.0.0.1.

    Not in the default sessions (minutes). `nox -s attacks -- a d` runs those only;
    `-- --app-src DIR` serves another checkout (before figures). Prints a table of
    figures; fails if an attack got through. See services/user-service/tests/attacks/README.md.
    """
    _python(session, "services/user-service/tests/attacks/runner.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark figure side by side (about 15 minutes): prints them, the ratios and issue 11's
    targets (each met or its gap), writes bench/results/bench.json and regenerates BENCHMARKS.md.

    `nox -s bench -- --runs 1 --skip suite,suite-serial,cold-build` for a quick look (that
    too rewrites both files); `python -m bench.report` regenerates BENCHMARKS.md from the JSON.
    """
    _python(session, "-m", "bench", *session.posargs)


@nox.session
def mutation(session: nox.Session) -> None:
    """mutmut over the safety-critical modules, each against its own tests; the score per module.

    Not in the default sessions (about 10 minutes on 2 cores). Fails if a module is under
    the threshold in tests/mutation/targets.py (survivors judged equivalent, listed with
    their reason in tests/mutation/equivalent.txt, are left out). Work folders and logs
    go to .artifacts/mutation/<module>/. `nox -s mutation -- throttle tokens` runs those only.
    Without arguments it then runs `mutation_plugin`: the plugin's safety-critical modules
    (readiness, ownership, leftovers, removal, masking, override, prune), the same 90 %
    threshold.
    """
    _python(session, "-m", "tests.mutation", *session.posargs)
    if not session.posargs:
        session.notify("mutation_plugin")


@nox.session
def soak(session: nox.Session) -> None:
    """Many integration runs, about half killed (SIGINT, SIGTERM, SIGKILL) at chosen phases; then
    0 leaked containers, networks and volumes, and 0 failures among the runs not killed.

    Not in the default sessions: bounded by `-- --minutes 40 --runs 60` (the defaults).
    `-- --startup-interrupts [--runs 12 --minutes 10]`: Ctrl-C at random moments of start-up
    instead, counting what each run leaves at exit and 10 s after (tests/soak/startup.py).
    Prints a table and writes bench/results/soak.json (BENCHMARKS.md shows it). A test of the
    plugin's cleanup, so it lives with the plugin's tests: pytest-microstack/tests/soak/.
    """
    _python(session, "-m", "soak", *session.posargs, env={"PYTHONPATH": str(ROOT / PLUGIN / "tests")})


# --- The package as others install it: fresh virtualenvs, not .venv ----------------------
# Not in the default sessions: each builds a virtualenv of its own under .nox/<session>/
# (wiped first), installs the plugin from its source as a user would (not editable),
# and runs its tests there. See pytest-microstack/RELEASING.md.
PLUGIN_PYPROJECT = ROOT / PLUGIN / "pyproject.toml"
# twine at the versions release.yml's pypa/gh-action-pypi-publish bundles (requirements/publish-action.toml).
PUBLISH_CHECK_LOCK = ROOT / "requirements" / "publish-check.txt"
FRESH_VENVS = ROOT / ".nox"
# The plugin's test tooling in those virtualenvs (pytest-split and pytest-timeout:
# pytest.ini's addopts and ini keys name them; pytest-cov: the example project's --stack-coverage test).
TEST_TOOLS = ["pytest-httpserver", "pytest-xdist", "pytest-timeout", "pytest-split", "pytest-cov"]
PLUGIN_UNIT_TESTS = [f"{PLUGIN}/tests/unit", "-m", "not integration"]
EXAMPLE_PROJECT_TESTS = [f"{PLUGIN}/tests/engine/test_example_project.py", "-m", "integration"]
MATRIX_PYTHONS = ["3.11", "3.12", "3.13"]
MATRIX_PYTESTS = ["8", "9"]
MATRIX_DOC = "The plugin's unit tests on Python {python} with pytest {pytest}, in a fresh virtualenv."


def _interpreter(session: nox.Session, version: str) -> str:
    """The newest pyenv build of Python `version`, else `python<version>` on PATH (CI's setup-python)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    builds = sorted(
        pyenv_root.glob(f"versions/{version}.*/bin/python{version}"),
        key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
    )
    if builds:
        return str(builds[-1])
    found = shutil.which(f"python{version}")
    if found is None:
        session.error(
            f"no Python {version}: install it (pyenv install {version}) or put python{version} on PATH"
        )
    return found


def _fresh_venv(session: nox.Session, version: str, name: str = "") -> Path:
    """A new virtualenv under .nox/ (named for the session, or `name`), made by Python `version`;
    returns its python.

    Made without pip (nor the setuptools some Pythons seed): whatever pip that Python
    bundles never runs. `_pip` installs into it with .venv's pip, requirements/dev.txt's pin.
    """
    folder = FRESH_VENVS / (name or session.name)
    shutil.rmtree(folder, ignore_errors=True)
    session.run(_interpreter(session, version), "-m", "venv", "--without-pip", str(folder), external=True)
    return folder / "bin" / "python"


def _pip(session: nox.Session, python: Path, *args: str) -> None:
    """pip from .venv (the version requirements/dev.txt locks), acting on `python`'s environment."""
    _python(session, "-m", "pip", "--python", str(python), *args)


def _install_lock(session: nox.Session, python: Path, lock: Path) -> None:
    """Exactly the hash lock `lock` into `python`'s environment, then `pip check`.

    --no-deps: the lock lists every package, so pip resolves nothing; resolving would
    let an old pip match an extra (coverage[toml]>=7.10.6) to the newest release and
    refuse it in hash mode (issue 23). `pip check` proves the lock complete. The same
    step as scripts/bootstrap's install_lock.
    """
    _pip(session, python, "install", "-q", "--no-deps", "--require-hashes", "-r", str(lock))
    _pip(session, python, "check")


def _floors() -> list[str]:
    """`name==X` for each `name>=X` of the plugin's dependencies, extras and build requirements."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads(PLUGIN_PYPROJECT.read_text())
    pins = []
    optional = project["project"].get("optional-dependencies", {})
    extras = [line for lines in optional.values() for line in lines]
    for line in [*project["project"]["dependencies"], *extras, *project["build-system"]["requires"]]:
        requirement = Requirement(line)
        floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(floors) != 1:
            raise ValueError(f"{PLUGIN_PYPROJECT}: {line!r} needs exactly one >= floor for nox -s minimums")
        pins.append(f"{requirement.name}=={floors[0]}")
    return pins


def _plugin_tests(session: nox.Session, python: Path, *, engine: bool) -> None:
    """The plugin's unit tests, then (with `engine`) its example project against the engine."""
    _pip(session, python, "list", "--format=freeze")
    common = ["-m", "pytest", "-p", "no:cacheprovider"]
    session.run(str(python), *common, *PLUGIN_UNIT_TESTS, *session.posargs, external=True)
    if engine:
        session.run(str(python), *common, *EXAMPLE_PROJECT_TESTS, *session.posargs, external=True)


@nox.session
def minimums(session: nox.Session) -> None:
    """The lowest version of every dependency pytest-microstack declares (each `>=` floor pinned
    exactly, setuptools for the build too): its unit tests and example project, in a fresh
    virtualenv on Python 3.11. Proves the floors in pytest-microstack/pyproject.toml."""
    python = _fresh_venv(session, MATRIX_PYTHONS[0])
    floors = FRESH_VENVS / session.name / "floors.txt"
    floors.write_text("\n".join(_floors()) + "\n")
    session.log("floors: " + ", ".join(_floors()))
    install = ["install", "-q", "-c", str(floors)]
    # The build floor too: setuptools at its lowest, and no build isolation to replace it.
    _pip(session, python, *install, "setuptools")
    _pip(session, python, *install, "--no-build-isolation", f"./{PLUGIN}[coverage]", *TEST_TOOLS)
    _pip(session, python, "check")
    _plugin_tests(session, python, engine=True)


@nox.session
def latest(session: nox.Session) -> None:
    """The canary: the newest release of every dependency (Testcontainers included), its unit
    tests and example project, in a fresh virtualenv on the newest Python here. It fails when
    an upstream release breaks the plugin."""
    python = _fresh_venv(session, MATRIX_PYTHONS[-1])
    # setuptools too: the unit tests build the wheel, here with the newest setuptools.
    # The [coverage] extra: the unit tests of --stack-coverage import coverage.py.
    newest = ["--upgrade", "--upgrade-strategy", "eager", f"./{PLUGIN}[coverage]", "setuptools", *TEST_TOOLS]
    _pip(session, python, "install", "-q", *newest)
    _pip(session, python, "check")
    _plugin_tests(session, python, engine=True)


def _matrix(session: nox.Session, python_version: str, pytest_major: str) -> None:
    """The plugin's unit tests on one Python with one pytest major, from requirements/matrix-pytestN.txt."""
    python = _fresh_venv(session, python_version)
    lock = ROOT / "requirements" / f"matrix-pytest{pytest_major}.txt"
    _install_lock(session, python, lock)
    _pip(session, python, "install", "-q", "--no-deps", "--no-build-isolation", f"./{PLUGIN}")
    _pip(session, python, "check")
    _plugin_tests(session, python, engine=False)


for _python_version in MATRIX_PYTHONS:
    for _pytest_major in MATRIX_PYTESTS:

        def _session(session: nox.Session, _v: str = _python_version, _p: str = _pytest_major) -> None:
            _matrix(session, _v, _p)

        _session.__doc__ = MATRIX_DOC.format(python=_python_version, pytest=_pytest_major)
        nox.session(name=f"matrix-{_python_version}-pytest{_pytest_major}")(_session)


@nox.session
def wheel(session: nox.Session) -> None:
    """A built wheel, installed into a fresh virtualenv as a user installs it: its unit tests and
    example project against the engine. The release workflow's check of what it publishes.

    `nox -s wheel -- dist/pytest_microstack-X.Y.Z-py3-none-any.whl`
    """
    if len(session.posargs) != 1 or not session.posargs[0].endswith(".whl"):
        session.error("give one wheel: nox -s wheel -- dist/pytest_microstack-X.Y.Z-py3-none-any.whl")
    built = Path(session.posargs[0]).resolve()
    python = _fresh_venv(session, MATRIX_PYTHONS[0])
    lock = ROOT / "requirements" / f"matrix-pytest{MATRIX_PYTESTS[-1]}.txt"
    _install_lock(session, python, lock)
    _pip(session, python, "install", "-q", "--no-deps", str(built))
    _pip(session, python, "check")
    session.posargs.clear()  # the wheel was ours; pytest gets none
    _plugin_tests(session, python, engine=True)


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


@nox.session
def release_notes(session: nox.Session) -> None:
    """The CHANGELOG's section for a version, written to a file: the GitHub release's notes.

    `nox -s release_notes -- 1.0.0 notes.md`
    """
    if len(session.posargs) != 2:
        session.error("usage: nox -s release_notes -- VERSION OUTPUT")
    version, output = session.posargs
    changelog = (ROOT / PLUGIN / "CHANGELOG.md").read_text()
    try:
        Path(output).write_text(changelog_section(changelog, version.removeprefix("v")))
    except ValueError as error:
        session.error(f"{PLUGIN}/CHANGELOG.md: {error}")


@nox.session
def package(session: nox.Session) -> None:
    """Build the plugin's sdist and wheel into dist/ (requirements/release.txt), then check them
    with the very twine that release.yml's publish action uploads them with (twine check --strict,
    requirements/publish-check.txt), each in a fresh virtualenv. The release workflow builds what
    it publishes with this session."""
    python = _fresh_venv(session, MATRIX_PYTHONS[0])
    _install_lock(session, python, ROOT / "requirements" / "release.txt")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # No build isolation: the setuptools pinned in the lock file, no unpinned download.
    session.run(str(python), "-m", "build", "--no-isolation", "--outdir", str(dist), PLUGIN, external=True)
    built = sorted(str(path) for path in dist.iterdir())
    checker = _fresh_venv(session, MATRIX_PYTHONS[0], name=f"{session.name}-publish-check")
    _install_lock(session, checker, PUBLISH_CHECK_LOCK)
    session.run(str(checker), "-m", "twine", "check", "--strict", *built, external=True)


# --- Podman ---------------------------------------------------------------------------------------
# `nox -s podman`: everything it makes lives under these two folders, removed at the end.
PODMAN_RUN = Path("/run/microstack-podman")  # configuration, API socket, run root
PODMAN_STORAGE = Path("/var/lib/microstack-podman")  # images, containers, volumes
PODMAN_SOCKET = PODMAN_RUN / "podman.sock"
NETAVARK_RUN = Path("/run/containers/networks")  # netavark's run folder (fixed in Podman 4.3 as root)
PODMAN_PACKAGES = ["podman", "catatonit"]
NETAVARK = "NETAVARK"  # the prefix of the iptables chains Podman's network back-end adds
NETAVARK_TABLES = ("filter", "nat")
# Podman's defaults, changed where this kind of machine needs it: no systemd (cgroupfs, file
# events), a sandbox that refuses the rlimits Podman sets by default, catatonit for `init: true`.
PODMAN_CONTAINERS_CONF = f"""\
[containers]
default_ulimits = []
init_path = "/usr/bin/catatonit"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{PODMAN_RUN}/events.log"
tmp_dir = "{PODMAN_RUN}/tmp"

[network]
network_config_dir = "{PODMAN_RUN}/networks"
"""
PODMAN_STORAGE_CONF = f"""\
[storage]
driver = "overlay"
runroot = "{PODMAN_RUN}/runroot"
graphroot = "{PODMAN_STORAGE}"
"""


def _unix_engine_answers(path: Path) -> bool:
    """Whether an engine answers `GET /_ping` with OK on the unix socket at `path`."""
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(1)
            client.connect(str(path))
            client.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
            answer = b""
            while chunk := client.recv(4096):
                answer += chunk
        return answer.rstrip().endswith(b"OK")
    except OSError:
        return False


def _dotenv_value(name: str) -> str:
    dotenv = ROOT / ".env"
    lines = dotenv.read_text().splitlines() if dotenv.is_file() else []
    return next((line.split("=", 1)[1] for line in lines if line.startswith(f"{name}=")), "")


def _netavark_rules() -> dict[str, list[str]]:
    """The iptables rules and chains (`iptables -S` lines) of Podman's netavark, by table."""
    found = {}
    for table in NETAVARK_TABLES:
        listed = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True, check=False)
        found[table] = [line for line in listed.stdout.splitlines() if NETAVARK in line]
    return found


def _remove_netavark_rules() -> None:
    """Delete netavark's rules, then its chains: it leaves them when its last network is gone."""
    for table, lines in _netavark_rules().items():
        for line in lines:
            if line.startswith("-A "):
                subprocess.run(["iptables", "-t", table, "-D", *shlex.split(line)[1:]], check=False)
        chains = [line.split()[1] for line in lines if line.startswith("-N ")]
        for action in ("-F", "-X"):
            for chain in chains:
                subprocess.run(["iptables", "-t", table, action, chain], check=False)


def _unmount_under(folder: Path) -> None:
    """Unmount whatever is mounted under `folder`, deepest first (Podman bind-mounts its overlay folder)."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m == str(folder) or m.startswith(f"{folder}/")), reverse=True):
        subprocess.run(["umount", point], check=False)


def _conmon_leftovers() -> list[int]:
    """Podman's conmon processes (exec sessions linger) that belong to this session's storage."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and (entry / "comm").read_text().strip() == "conmon"
                and str(PODMAN_STORAGE) in (entry / "cmdline").read_text(errors="replace")
            ):
                pids.append(int(entry.name))
        except OSError:
            continue  # it ended while we looked
    return pids


def _docker_events(since: float, until: float) -> list[str]:
    """Every event of the Docker engine between two times, one JSON line each."""
    result = subprocess.run(
        ["docker", "events", "--since", f"{since:.0f}", "--until", f"{until:.0f}", "--format", "{{json .}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


@contextmanager
def _podman_engine(session: nox.Session) -> Iterator[dict[str, str]]:
    """Podman's API socket on a private path, its storage in private folders; yields podman's environment.

    Stops the service and removes everything it made afterwards: containers,
    images, volumes and networks (`podman system reset` on the private storage),
    then the folders themselves.
    """
    if _unix_engine_answers(PODMAN_SOCKET):
        session.error(f"a Podman service already answers on {PODMAN_SOCKET}: another `nox -s podman` runs")
    if shutil.which("podman") is None or shutil.which("catatonit") is None:
        session.log(f"installing {' '.join(PODMAN_PACKAGES)} from Debian")
        apt = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "install", "-y", "-qq", *PODMAN_PACKAGES, external=True, env=apt, silent=True)
    netavark_before = any(_netavark_rules().values())
    netavark_run_before = NETAVARK_RUN.parent.exists()
    for folder in (PODMAN_RUN, PODMAN_STORAGE):
        _unmount_under(folder)  # a killed earlier session's; its service is gone (above)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
    (PODMAN_RUN / "containers.conf").write_text(PODMAN_CONTAINERS_CONF)
    (PODMAN_RUN / "storage.conf").write_text(PODMAN_STORAGE_CONF)
    env = {
        "CONTAINERS_CONF": str(PODMAN_RUN / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(PODMAN_RUN / "storage.conf"),
    }
    service_log = (PODMAN_RUN / "service.log").open("wb")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{PODMAN_SOCKET}"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=service_log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + ENGINE_ANSWER_TIMEOUT
        while not _unix_engine_answers(PODMAN_SOCKET):
            if service.poll() is not None or time.monotonic() > deadline:
                log = (PODMAN_RUN / "service.log").read_text(errors="replace")
                session.error(f"podman system service did not answer on {PODMAN_SOCKET}:\n{log[-2000:]}")
            time.sleep(0.05)  # polling the new socket under the deadline above
        session.run(
            "podman",
            "version",
            "--format",
            "{{.Server.Version}}",
            external=True,
            env=env,
        )
        yield env
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()
        service_log.close()
        subprocess.run(["podman", "system", "reset", "--force"], env={**os.environ, **env}, check=False)
        for pid in _conmon_leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for folder in (PODMAN_RUN, PODMAN_STORAGE):
            _unmount_under(folder)
            shutil.rmtree(folder, ignore_errors=True)
        if not netavark_run_before:
            shutil.rmtree(NETAVARK_RUN.parent, ignore_errors=True)
        if netavark_before:
            session.warn("netavark's iptables chains were there before this session: left as they are")
        else:
            _remove_netavark_rules()


@nox.session
def podman(session: nox.Session) -> None:
    """The plugin's engine tests and the integration suite on Podman (Debian's), not Docker. Root only.

    Installs podman and catatonit (apt) when missing, starts Podman's
    Docker-compatible API on a private socket with private storage, loads the
    base image from Docker (`docker save | podman load`), runs both suites with
    DOCKER_HOST pointing at it and DOCKER_BUILDKIT=0, then stops the service and
    removes all it made. The Docker engine is left as it was: the session fails
    if any Docker event names this session's run. Not in the default run.
    Extra arguments go to both pytest runs: `nox -s podman -- -x`.
    """
    if os.geteuid() != 0:
        session.error("nox -s podman needs root: it installs packages and runs Podman as root")
    base_image = _dotenv_value("BASE_IMAGE")
    if not base_image:
        session.error("no BASE_IMAGE in .env: run scripts/bootstrap first")
    run_id = f"podman{int(time.time())}"
    basetemp = ARTIFACTS / "podman-plugin" / "tmp"
    started = time.time()
    docker_before = _docker_counts(session)
    try:
        with _podman_engine(session) as podman_env:
            _load_image(session, base_image, podman_env)
            engine = {"DOCKER_HOST": f"unix://{PODMAN_SOCKET}", "DOCKER_BUILDKIT": "0"}
            shutil.rmtree(basetemp.parent, ignore_errors=True)
            basetemp.parent.mkdir(parents=True)
            plugin_junit = f"--junitxml={basetemp.parent / 'junit.xml'}"
            _run_pytest(
                session,
                "-m",
                "integration",
                f"--basetemp={basetemp}",
                plugin_junit,
                paths=(f"{PLUGIN}/tests",),
                env=engine,
            )
            began = time.monotonic()
            reports = _run_artifacts(session, "podman")
            suite_env = {**engine, "MICROSTACK_RUN_ID": run_id}
            _run_pytest(session, "-m", INTEGRATION, *reports, paths=("tests",), env=suite_env)
            load = os.getloadavg()[0]
            session.log(f"integration suite on Podman: {time.monotonic() - began:.1f} s (load {load:.1f})")
    finally:
        # Even when a suite failed: the Docker engine must not have seen this session.
        ours = [e for e in _docker_events(started, time.time()) if run_id in e or str(basetemp) in e]
        if ours:
            session.error(f"the Docker engine saw {len(ours)} event(s) of this session, e.g. {ours[0][:300]}")
        session.log(
            f"Docker untouched: no event names run {run_id} or {basetemp}; containers and images "
            f"before {docker_before}, after {_docker_counts(session)} (other runs share this engine)"
        )


def _docker_counts(session: nox.Session) -> tuple[int, int]:
    """How many containers (`docker ps -a`) and images (`docker images`) the Docker engine has."""
    containers = str(session.run("docker", "ps", "-aq", external=True, silent=True)).split()
    images = str(session.run("docker", "images", "-q", external=True, silent=True)).split()
    return len(containers), len(images)


def _load_image(session: nox.Session, image: str, podman_env: Mapping[str, str]) -> None:
    """`docker save IMAGE | podman load`: the local base image, which no registry here serves."""
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    load = subprocess.run(
        ["podman", "load"], stdin=save.stdout, env={**os.environ, **podman_env}, capture_output=True
    )
    if save.stdout is not None:
        save.stdout.close()
    if save.wait() != 0 or load.returncode != 0:
        session.error(f"loading {image} into Podman failed: {load.stderr.decode(errors='replace')}")
    session.log(load.stdout.decode(errors="replace").strip())
