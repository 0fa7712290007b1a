"""Sessions for local runs and CI alike: `nox` runs lint, unit and both integration runs.

Every session installs the same hash-locked requirements/dev.txt. The
integration sessions need a Docker engine and compose v2: run
scripts/bootstrap once first.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "unit", "integration", "integration_parallel"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

LOCK = "requirements/dev.txt"
SERVICE_TESTS = ["services/user-service/tests", "services/product-service/tests"]
HARNESS_CODE = ["conftest.py", "noxfile.py", "tests", "bench"]


def _install(session: nox.Session) -> None:
    session.install("--require-hashes", "-r", LOCK)


def _run_pytest(session: nox.Session, *args: str) -> None:
    session.run("pytest", *args, *session.posargs, external=False)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff on everything; mypy on the harness, conftest and noxfile."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", *HARNESS_CODE)


@nox.session(python="3.11")
def unit(session: nox.Session) -> None:
    """The services' unit tests (Flask test client) and the harness's own, no Docker needed."""
    _install(session)
    _run_pytest(session, "-m", "not integration", *SERVICE_TESTS, "tests/unit")


@nox.session(python="3.11")
def integration(session: nox.Session) -> None:
    """The whole stack through Testcontainers' compose: flow, scenarios, failure cases.

    Extra arguments go to pytest: `nox -s integration -- -n 2 -k faults`.
    """
    _install(session)
    _run_pytest(session, "-m", "integration", "tests")


@nox.session(python="3.11")
def integration_parallel(session: nox.Session) -> None:
    """The integration suite on two xdist workers, each with a stack of its own."""
    _install(session)
    _run_pytest(session, "-m", "integration", "-n", "2", "tests")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Start-up, teardown, build and fault timings; prints figures and writes JSON."""
    _install(session)
    session.run("python", "-m", "bench", *session.posargs)
