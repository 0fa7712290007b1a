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
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import nox

# nox loads this file by its path: the checkout's tools/ package needs the checkout on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
from tools import docs_site
from tools import podman as podman_engine
from tools.artifacts import report_args
from tools.collect import INTEGRATION, INTEGRATION_SELECTION, collect_output
from tools.fresh_venv import (
    floors_venv,
    fresh_venv,
    install_lock,
    latest_venv,
    matrix_venv,
    pip,
    plugin_tests,
)
from tools.pytest_args import paths_given
from tools.release import changelog_section

ROOT = Path(__file__).parent
VENV_BIN = ROOT / ".venv" / "bin"
VENV_PYTHON = VENV_BIN / "python"
ARTIFACTS = ROOT / ".artifacts"
WORKFLOWS = sorted(str(path.relative_to(ROOT)) for path in (ROOT / ".github" / "workflows").glob("*.yml"))
DEPENDABOT = ".github/dependabot.yml"
# Examples per operation for the long schema-fuzzing run (the default run has 25).
FUZZ_MAX_EXAMPLES = "300"
SERVICES = ["services/servicekit", "services/user-service", "services/product-service"]
SERVICE_TESTS = [f"{service}/tests" for service in SERVICES]
PLUGIN = "pytest-microstack"
# One mypy run per project: the plugin and each service have a tests/conftest.py of
# their own (a `conftest` module twice in one run is refused).
TYPED_CODE = [
    ["conftest.py", "noxfile.py", "tests", "bench", "tools", "--exclude", "^tools/attacks/"],
    [f"{PLUGIN}/src", f"{PLUGIN}/tests"],
    ["docs/_tools"],
    *([service] for service in SERVICES),
    ["--explicit-package-bases", "tools/attacks"],  # scripts: see [tool.mypy] mypy_path
]

nox.options.sessions = ["lint", "unit", "docs", "plugin", "integration", "integration_parallel"]
nox.options.default_venv_backend = "none"


def _python(session: nox.Session, *args: str, env: Mapping[str, str] | None = None) -> None:
    if not VENV_PYTHON.exists():
        session.error("no .venv: run scripts/bootstrap first")
    session.run(str(VENV_PYTHON), *args, external=True, env=dict(env or {}))


def _run_pytest(
    session: nox.Session, *args: str, paths: tuple[str, ...] = (), env: Mapping[str, str] | None = None
) -> None:
    """pytest with `args`, then posargs; paths in posargs replace the default `paths`."""
    given = paths_given(session.posargs)  # a path in posargs replaces the session's default paths
    _python(session, "-m", "pytest", *args, *([] if given else paths), *session.posargs, env=env)


def _run_artifacts(session: nox.Session, name: str) -> list[str]:
    """--stack-artifacts and --junitxml into .artifacts/<name>[-shard-I-of-N], unless posargs choose them."""
    return report_args(ARTIFACTS, name, session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything; mypy (strict) on the plugin, services, tests, bench, conftest and noxfile;
    the plugin's layering contracts (lint-imports)."""
    _python(session, "-m", "ruff", "check", ".")
    _python(session, "-m", "ruff", "format", "--check", ".")
    for paths in TYPED_CODE:
        _python(session, "-m", "mypy", *paths)
    # The plugin's layering: its contracts are in its pyproject.toml ([tool.importlinter]).
    session.run(str(VENV_BIN / "lint-imports"), "--no-cache", f"{PLUGIN}/pyproject.toml", external=True)
    # The CI workflow: against GitHub's schema (vendored in check-jsonschema), and zizmor's audits.
    _python(session, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    _python(session, "-m", "check_jsonschema", "--builtin-schema", "vendor.dependabot", DEPENDABOT)
    session.run(str(VENV_BIN / "zizmor"), "--offline", *WORKFLOWS, DEPENDABOT, external=True)


@nox.session
def unit(session: nox.Session) -> None:
    """The services' unit tests (Flask test client), the plugin's own and the tools', no Docker needed."""
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
    unit_only = ["-m", "not integration", *measured, "--cov-report=term", "--cov-fail-under=0"]
    _python(session, "-m", "pytest", *unit_only, *SERVICE_TESTS)
    reports = [f"--cov-report=xml:{folder / 'coverage.xml'}", f"--cov-report=html:{folder / 'html'}"]
    reports += ["--cov-report=term-missing:skip-covered", *_run_artifacts(session, "coverage")]
    integrated = ["-m", INTEGRATION, "-n", "2", "--stack-coverage", *measured, "--cov-append", *reports]
    _run_pytest(session, *integrated, paths=("tests",))


@nox.session
def mutation_plugin(session: nox.Session) -> None:
    """`nox -s mutation` for the plugin's modules only: `mutation -- --group plugin`."""
    _python(session, "-m", "tools.mutation", "--group", "plugin", *session.posargs)


@nox.session
def impact(session: nox.Session) -> None:
    """The mutant study of --stack-impact (bounded: `-- --minutes N`; resumable, results in
    bench/results/impact_mutants.json): every mutant the suite kills, the selection must kill."""
    _python(session, "-m", "tools.impact", *session.posargs)


@nox.session
def durations(session: nox.Session) -> None:
    """Run the integration suite serially and record each test's duration in .test_durations.

    pytest-split balances the shards by these; commit the file. Run with a path,
    it only updates the tests that ran.
    """
    clean = [] if paths_given(session.posargs) else ["--clean-durations"]
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
                "no shard's JUnit file in .artifacts/: run nox -s integration -- --splits N --group I"
            )
        args += ["--output", str(ARTIFACTS / "junit.xml")]
    if not any(arg.startswith("--expect") for arg in args):
        ARTIFACTS.mkdir(exist_ok=True)
        nodeids = ARTIFACTS / "collected-integration.txt"
        nodeids.write_text(collect_output(*INTEGRATION_SELECTION))
        args += ["--expect-nodeids", str(nodeids)]
    _python(session, "-m", "tools.junit_report", *args)


@nox.session
def remote_engine(session: nox.Session) -> None:
    """The integration suite with DOCKER_HOST=tcp://127.0.0.1:PORT: the same engine, reached as a remote one.

    socat forwards a free loopback port to the engine's socket for this session
    only (any local user can reach it meanwhile: a test machine's tool, never on
    a shared one), and is stopped when the session ends. Needs socat: apt-get
    install socat. Extra arguments go to pytest, as for `integration`.
    """
    _python(session, "-m", "tools.remote_engine", *session.posargs)


@nox.session
def remote_engines(session: nox.Session) -> None:
    """Two engines in network namespaces of their own, as other machines (tools/netns_engine/session.py
    says what runs on them). Needs root, iproute2, openssh-server; not in the default run."""
    _python(session, "-m", "tools.netns_engine", "run", *session.posargs)


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

    The services' own throughput, with no recording proxies (bench compares). Needs wrk.
    """
    _run_pytest(session, "-m", "load", "-p", "no:xdist", "--no-stack-exchanges", paths=("tests/load",))


@nox.session
def attacks(session: nox.Session) -> None:
    """Issue 24's attack scripts, each against a fresh local gunicorn of user-service on 127.0.0.1.

    Not in the default sessions (minutes). `nox -s attacks -- a d` runs those only;
    `-- --app-src DIR` serves another checkout (before figures). Prints a table of
    figures; fails if an attack got through. See tools/attacks/README.md.
    """
    _python(session, "tools/attacks/runner.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark figure side by side (about 25 minutes): prints them, the ratios and issues 19's
    and 26's targets (each met or its gap), writes bench/results/bench.json and regenerates BENCHMARKS.md.

    `nox -s bench -- --runs 1 --skip suite,suite-serial,cold-build` for a quick look (that
    too rewrites both files); `-- --only exchanges-latency,exchanges-startup,exchanges-load,exchanges-memory
    --runs 1` for issue 26's costs alone; `python -m bench.report` rewrites BENCHMARKS.md from the JSON."""
    _python(session, "-m", "bench", *session.posargs)


@nox.session
def mutation(session: nox.Session) -> None:
    """mutmut over the safety-critical modules of the services and the plugin, each against its
    own tests; the score per module.

    Not in the default sessions (about 40 minutes on 2 cores). Targets: tools/mutation/targets.py.
    Fails under 90 % killed, or if a listed equivalent (tools/mutation/equivalent.toml) of a module
    that ran was killed or doesn't exist. Work folders and logs: .artifacts/mutation/<name>/.
    `nox -s mutation -- throttle prune` runs those only, `-- --group plugin` the plugin's.
    """
    _python(session, "-m", "tools.mutation", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """Many integration runs, about half killed (SIGINT, SIGTERM, SIGKILL) at chosen phases; then
    0 leaked containers, networks and volumes, and 0 failures among the runs not killed.

    Not in the default sessions: bounded by `-- --minutes 40 --runs 60` (the defaults).
    `-- --startup-interrupts [--runs 12 --minutes 10]`: Ctrl-C at random moments of start-up
    instead, counting what each run leaves at exit and 10 s after (tools/soak/startup.py).
    Prints a table and writes bench/results/soak.json (BENCHMARKS.md shows it).
    """
    _python(session, "-m", "tools.soak", *session.posargs)


# --- The package as others install it: fresh virtualenvs under .nox/ (tools/fresh_venv.py; RELEASING.md).
PLUGIN_PYPROJECT = ROOT / PLUGIN / "pyproject.toml"
# twine at the versions release.yml's pypa/gh-action-pypi-publish bundles (requirements/publish-action.toml).
PUBLISH_CHECK_LOCK = ROOT / "requirements" / "publish-check.txt"
MATRIX_PYTHONS = ["3.11", "3.12", "3.13"]
MATRIX_PYTESTS = ["8", "9"]
MATRIX_DOC = "The plugin's unit tests on Python {python} with pytest {pytest}, in a fresh virtualenv."


@nox.session
def minimums(session: nox.Session) -> None:
    """The lowest version of every dependency pytest-microstack declares (each `>=` floor pinned
    exactly): its unit tests and example project, on Python 3.11. Proves the floors."""
    plugin_tests(session, floors_venv(session, MATRIX_PYTHONS[0], PLUGIN_PYPROJECT), engine=True)


@nox.session
def latest(session: nox.Session) -> None:
    """The canary: the newest release of every dependency (Testcontainers included), its unit
    tests and example project, on the newest Python here; fails when an upstream release breaks it."""
    plugin_tests(session, latest_venv(session, MATRIX_PYTHONS[-1]), engine=True)


for _python_version in MATRIX_PYTHONS:
    for _pytest_major in MATRIX_PYTESTS:

        def _session(session: nox.Session, _v: str = _python_version, _p: str = _pytest_major) -> None:
            plugin_tests(session, matrix_venv(session, _v, _p), engine=False)

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
    python = fresh_venv(session, MATRIX_PYTHONS[0])
    lock = ROOT / "requirements" / f"matrix-pytest{MATRIX_PYTESTS[-1]}.txt"
    install_lock(session, python, lock)
    pip(session, python, "install", "-q", "--no-deps", str(built))
    pip(session, python, "check")
    session.posargs.clear()  # the wheel was ours; pytest gets none
    plugin_tests(session, python, engine=True)


@nox.session
def docs(session: nox.Session) -> None:
    """The site (mkdocs.yml, docs/) built strict, then every example on it run and every option,
    fixture, public name and error found in its reference. `nox -s docs -- serve` serves it."""
    docs_site.build_and_check(session, MATRIX_PYTHONS[0])


@nox.session
def docs_links(session: nox.Session) -> None:
    """The built site's external links, each fetched (needs the network: the weekly canary runs it)."""
    docs_site.check_links(session, MATRIX_PYTHONS[0])


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
    python = fresh_venv(session, MATRIX_PYTHONS[0])
    install_lock(session, python, ROOT / "requirements" / "release.txt")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # No build isolation: the setuptools pinned in the lock file, no unpinned download.
    session.run(str(python), "-m", "build", "--no-isolation", "--outdir", str(dist), PLUGIN, external=True)
    built = sorted(str(path) for path in dist.iterdir())
    checker = fresh_venv(session, MATRIX_PYTHONS[0], name=f"{session.name}-publish-check")
    install_lock(session, checker, PUBLISH_CHECK_LOCK)
    session.run(str(checker), "-m", "twine", "check", "--strict", *built, external=True)


@nox.session
def podman(session: nox.Session) -> None:
    """The plugin's engine tests and the integration suite on Podman (Debian's), not Docker. Root only.

    Podman's Docker-compatible API on a private socket and storage (tools/podman.py says how);
    fails if any Docker event names this session's run. Not in the default run.
    Extra arguments go to both pytest runs: `nox -s podman -- -x`.
    """
    if os.geteuid() != 0:
        session.error("nox -s podman needs root: it installs packages and runs Podman as root")
    base_image = podman_engine.dotenv_value(ROOT / ".env", "BASE_IMAGE")
    if not base_image:
        session.error("no BASE_IMAGE in .env: run scripts/bootstrap first")
    run_id = f"podman{int(time.time())}"
    basetemp = ARTIFACTS / "podman-plugin" / "tmp"
    started, docker_before = time.time(), podman_engine.docker_counts()
    try:
        with podman_engine.podman_engine(log=session.log, warn=session.warn) as podman_env:
            session.log(podman_engine.load_image(base_image, podman_env))
            engine = {"DOCKER_HOST": f"unix://{podman_engine.PODMAN_SOCKET}", "DOCKER_BUILDKIT": "0"}
            shutil.rmtree(basetemp.parent, ignore_errors=True)
            basetemp.parent.mkdir(parents=True)
            plugin_run = [f"--basetemp={basetemp}", f"--junitxml={basetemp.parent / 'junit.xml'}"]
            _run_pytest(session, "-m", "integration", *plugin_run, paths=(f"{PLUGIN}/tests",), env=engine)
            began = time.monotonic()
            reports = _run_artifacts(session, "podman")
            suite_env = {**engine, "MICROSTACK_RUN_ID": run_id}
            _run_pytest(session, "-m", INTEGRATION, *reports, paths=("tests",), env=suite_env)
            load = os.getloadavg()[0]
            session.log(f"integration suite on Podman: {time.monotonic() - began:.1f} s (load {load:.1f})")
    except podman_engine.PodmanError as error:
        session.error(str(error))
    finally:
        # Even when a suite failed: the Docker engine must not have seen this session.
        ours = podman_engine.docker_events_naming(started, (run_id, str(basetemp)))
        if ours:
            session.error(f"the Docker engine saw {len(ours)} event(s) of this session, e.g. {ours[0][:300]}")
        session.log(
            f"Docker untouched: no event names run {run_id} or {basetemp}; containers and images "
            f"before {docker_before}, after {podman_engine.docker_counts()} (other runs share this engine)"
        )
