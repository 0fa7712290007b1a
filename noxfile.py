"""Sessions for local runs and CI alike: `nox` runs lint, unit and both integration runs.

Every session runs in the project's .venv, which scripts/bootstrap builds from
the hash-locked requirements/dev.txt: one environment, checked against one lock
file, and no per-session install, so two runs started at the same moment from
one checkout (or a CI matrix) never race to build the same virtualenv. The
integration sessions need a Docker engine and compose v2: scripts/bootstrap
prepares both.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
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


def _python(session: nox.Session, *args: str) -> None:
    if not VENV_PYTHON.exists():
        session.error("no .venv: run scripts/bootstrap first")
    session.run(str(VENV_PYTHON), *args, external=True)


def _names_a_path(arg: str) -> bool:
    return not arg.startswith("-") and Path(arg.split("::", 1)[0]).exists()


def _run_pytest(session: nox.Session, *args: str, paths: tuple[str, ...] = ()) -> None:
    """pytest with `args`, then posargs; paths in posargs replace the default `paths`."""
    given = any(_names_a_path(arg) for arg in session.posargs)
    _python(session, "-m", "pytest", *args, *([] if given else paths), *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything; mypy (strict) on the plugin, services, tests, bench, conftest and noxfile."""
    _python(session, "-m", "ruff", "check", ".")
    _python(session, "-m", "ruff", "format", "--check", ".")
    for paths in TYPED_CODE:
        _python(session, "-m", "mypy", *paths)


@nox.session
def unit(session: nox.Session) -> None:
    """The services' unit tests (Flask test client) and the plugin's own, no Docker needed."""
    paths = (*SERVICE_TESTS, f"{PLUGIN}/tests/unit", "tests/unit")
    _run_pytest(session, "-m", "not integration", paths=paths)


@nox.session
def plugin(session: nox.Session) -> None:
    """The plugin against the real engine, as other projects use it: its example project
    (through pytester and the installed entry point), start-up failures, signals and leaks."""
    _run_pytest(session, "-m", "integration", paths=(f"{PLUGIN}/tests",))


@nox.session
def integration(session: nox.Session) -> None:
    """The whole stack through Testcontainers' compose: flow, scenarios, failure cases.

    Extra arguments go to pytest: `nox -s integration -- -n 2 -k faults`; a path
    among them replaces the default `tests`: `nox -s integration -- tests/scenarios`.
    """
    _run_pytest(session, "-m", "integration", paths=("tests",))


@nox.session
def integration_parallel(session: nox.Session) -> None:
    """The integration suite on two xdist workers, each with a stack of its own."""
    _run_pytest(session, "-m", "integration", "-n", "2", paths=("tests",))


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark figure side by side (about 15 minutes): prints them, the ratios and issue 11's
    targets (each met or its gap), writes bench/results/bench.json and regenerates BENCHMARKS.md.

    `nox -s bench -- --runs 1 --skip suite,suite-serial,cold-build` for a quick look (that
    too rewrites both files); `python -m bench.report` regenerates BENCHMARKS.md from the JSON.
    """
    _python(session, "-m", "bench", *session.posargs)
