"""What `nox -s mutation` mutates, the tests that must catch it, and the bar they must clear.

One table for the services and the plugin: one Target per module. When a module
moves, its one line here changes. Adding one is one more entry:

    Target("readiness", PLUGIN, "pytest_microstack/_core/readiness.py", PLUGIN_TESTS),

`root` is the folder that holds the package (imports resolve from it), `module` the
file under it, `tests` the test files or folders (repository paths) run against each
mutant, and `select` an optional -k expression narrowing them: only these, so a run
stays bounded on a small machine (mutmut also runs, per mutant, only the tests that
reach the mutated function). A test folder is copied whole (its conftest.py and
helpers come along), with the conftest.py files above it in its project; a file
brings its folder's too. mutmut skips decorated functions (Flask views,
@contextmanager): a module's work belongs in plain functions that the decorated
ones call, or it goes unmutated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Killed mutants over all mutants not judged equivalent, per module: the run fails below it.
THRESHOLD = 0.90
#: Survivors judged equivalent: one [[equivalent]] (mutant, why) each.
EQUIVALENT_FILE = Path(__file__).with_name("equivalent.toml")

# A hanging mutant is stopped by the code's own deadlines, not by the machine's speed.
# Each test's limit (pytest-timeout) is the longest deadline or timeout its target's
# tests hand the code or wait for (Target.longest_deadline: 30 s unless a row says
# more) plus DEADLINE_MARGIN for a loaded 2-core machine: a test past it fails, so its
# mutant is killed, at the same point on any machine. mutmut's own timeout, which
# scales with the speed it measured, is pushed far beyond that: a backstop only, that
# a mutant's tests, run one at a time and stopped at the first failure (-x), never reach.
DEFAULT_DEADLINE = 30.0  # test_readiness.py's longest: wait_until_healthy(..., timeout=30)
DEADLINE_MARGIN = 15.0
MUTMUT_TIMEOUT_CONSTANT = 1000.0
MUTMUT_TIMEOUT_MULTIPLIER = 2.0

USER_SERVICE, SERVICEKIT, PRODUCT_SERVICE = (
    "services/user-service/src",
    "services/servicekit/src",
    "services/product-service/src",
)
USER_TESTS = "services/user-service/tests"
# test_user_throttle.py's concurrent-guesses test joins each thread for up to 60 s.
THROTTLE_JOIN = 60.0
PLUGIN = "pytest-microstack/src"
PLUGIN_UNIT = "pytest-microstack/tests/unit"
# The plugin's in-process unit tests about its safety-critical modules. Not its pytester
# or engine tests: a test that runs pytest in a subprocess imports the installed plugin,
# not the mutant.
PLUGIN_TESTS = tuple(
    f"{PLUGIN_UNIT}/test_{name}.py"
    for name in (
        "readiness",
        "readiness_boundaries",
        "ownership",
        "owner_identity",
        "leftovers",
        "reaper",
        "stack",
        "masking",
        "failure_report",
        "override",
        "machine_id",
        "no_proc",
        "prune",
    )
)


@dataclass(frozen=True)
class Target:
    """One module to mutate and the tests run against each of its mutants."""

    name: str
    root: str
    module: str
    tests: tuple[str, ...]
    #: A pytest -k expression narrowing `tests` to those about this module (time bound).
    select: str | None = None
    #: The longest deadline or timeout (seconds) any of `tests` hands the code or waits for.
    longest_deadline: float = DEFAULT_DEADLINE

    @property
    def per_test_timeout(self) -> float:
        """Each test's limit: past it, the mutant loops or waits where the code would have stopped."""
        return self.longest_deadline + DEADLINE_MARGIN

    @property
    def run_key(self) -> tuple[object, ...]:
        """What one mutmut run shares: targets equal in it are mutated in one run (one baseline)."""
        return (self.root, self.tests, self.select, self.per_test_timeout)

    @property
    def group(self) -> str:
        """ "plugin" or "services": `nox -s mutation_plugin` runs the first only."""
        return "plugin" if self.root == PLUGIN else "services"

    @property
    def dotted(self) -> str:
        """The module as mutant names start: user_service/db.py -> user_service.db."""
        return self.module.removesuffix(".py").replace("/", ".")


TARGETS = [
    Target(
        "throttle",
        USER_SERVICE,
        "user_service/throttle.py",
        (f"{USER_TESTS}/test_user_throttle.py", f"{USER_TESTS}/test_user_signup.py"),
        longest_deadline=THROTTLE_JOIN,
    ),
    Target(
        "clients",
        USER_SERVICE,
        "user_service/clients.py",
        (f"{USER_TESTS}/test_user_clients.py",),
    ),
    Target(
        "device",
        USER_SERVICE,
        "user_service/device.py",
        (f"{USER_TESTS}/test_user_device.py", f"{USER_TESTS}/test_user_throttle.py"),
        select="device",
        longest_deadline=THROTTLE_JOIN,
    ),
    Target(
        "users-db",
        USER_SERVICE,
        "user_service/db.py",
        (
            f"{USER_TESTS}/test_user_usernames.py",
            f"{USER_TESTS}/test_user_api.py",
            f"{USER_TESTS}/test_user_ops.py",
        ),
        select="not (body or chunked or token_errors or largest or bad_bodies or oversized)",
    ),
    Target(
        "validation",
        USER_SERVICE,
        "user_service/validation.py",
        (f"{USER_TESTS}/test_user_usernames.py", f"{USER_TESTS}/test_user_api.py"),
        select="fold or names or invalid or boundary or full_width or credentials",
    ),
    Target(
        "tokens",
        USER_SERVICE,
        "user_service/tokens.py",
        (f"{USER_TESTS}/test_user_api.py", f"{USER_TESTS}/test_user_hostile.py"),
        select="token or authenticate or login",
    ),
    Target(
        "passwords",
        USER_SERVICE,
        "user_service/passwords.py",
        (
            f"{USER_TESTS}/test_user_passwords.py",
            f"{USER_TESTS}/test_user_signup.py",
            f"{USER_TESTS}/test_user_hashing_share.py",
            f"{USER_TESTS}/test_user_failure_work.py",
        ),
    ),
    Target(
        "decoys",
        USER_SERVICE,
        "user_service/decoys.py",
        (f"{USER_TESTS}/test_user_decoys.py", f"{USER_TESTS}/test_user_failure_work.py"),
    ),
    Target(
        "auth",
        USER_SERVICE,
        "user_service/auth.py",
        (
            f"{USER_TESTS}/test_user_login.py",
            f"{USER_TESTS}/test_user_throttle.py",
            f"{USER_TESTS}/test_user_signup.py",
        ),
        select="(login or device or throttle or busy) and not (table or store_nothing or keeps_the_time)",
        longest_deadline=THROTTLE_JOIN,
    ),
    Target(
        "users",
        USER_SERVICE,
        "user_service/users.py",
        (
            f"{USER_TESTS}/test_user_sign_up_api.py",
            f"{USER_TESTS}/test_user_signup.py",
            f"{USER_TESTS}/test_user_api.py",
        ),
        select="sign_up or signup or create_user or duplicate or authenticate or token",
    ),
    Target(
        "redaction",
        SERVICEKIT,
        "servicekit/redaction.py",
        ("services/servicekit/tests/test_redaction.py",),
    ),
    Target(
        "gunicorn-worker",
        SERVICEKIT,
        "servicekit/gunicorn_worker.py",
        ("services/servicekit/tests/test_gunicorn_worker.py",),
    ),
    Target(
        "http-limits",
        SERVICEKIT,
        "servicekit/http.py",
        (
            f"{USER_TESTS}/test_user_api.py",
            f"{USER_TESTS}/test_user_hostile.py",
            "services/servicekit/tests/test_http.py",
        ),
        select="not (token or authenticate or login or restart or stored_hashed)",
    ),
    Target(
        "pagination",
        PRODUCT_SERVICE,
        "product_service/pagination.py",
        (
            "services/product-service/tests/test_product_pages.py",
            "services/product-service/tests/test_product_hostile.py",
        ),
    ),
    Target("readiness", PLUGIN, "pytest_microstack/_core/readiness.py", PLUGIN_TESTS),
    Target("ownership", PLUGIN, "pytest_microstack/_ownership.py", PLUGIN_TESTS),
    Target("leftovers", PLUGIN, "pytest_microstack/_cleanup/leftovers.py", PLUGIN_TESTS),
    Target("removal", PLUGIN, "pytest_microstack/_cleanup/removal.py", PLUGIN_TESTS),
    Target("masking", PLUGIN, "pytest_microstack/_reports/masking.py", PLUGIN_TESTS),
    Target("override", PLUGIN, "pytest_microstack/_engine/override.py", PLUGIN_TESTS),
    Target("prune", PLUGIN, "pytest_microstack/_engine/prune.py", PLUGIN_TESTS),
]
