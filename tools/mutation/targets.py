"""What `nox -s mutation` mutates, the tests that must catch it, and the bar they must clear.

One Target per module. Adding one (e.g. the plugin's readiness module, once it has
settled in its subpackage) is one more entry:

    Target("readiness", "pytest-microstack/src", "pytest_microstack/<sub>/readiness.py",
           ("pytest-microstack/tests/unit/test_readiness.py",)),

`root` is the folder that holds the package (imports resolve from it), `module` the
file under it, `tests` the test files or folders (repository paths) run against each
mutant, and `select` an optional -k expression narrowing them: only these, so a run
stays bounded on a small machine (mutmut also runs, per mutant, only the tests that
reach the mutated function). A test folder is copied
whole (its conftest.py and helpers come along); a file brings its folder's too.
mutmut skips decorated functions (Flask views, @contextmanager): a module's work
belongs in plain functions that the decorated ones call, or it goes unmutated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Killed mutants over all mutants not judged equivalent, per module: the run fails below it.
THRESHOLD = 0.90
#: Survivors judged equivalent: one `mutant-name  reason` per line.
EQUIVALENT_FILE = Path(__file__).with_name("equivalent.txt")

USER_SERVICE, SERVICEKIT, PRODUCT_SERVICE = (
    "services/user-service/src",
    "services/servicekit/src",
    "services/product-service/src",
)
USER_TESTS = "services/user-service/tests"


@dataclass(frozen=True)
class Target:
    """One module to mutate and the tests run against each of its mutants."""

    name: str
    root: str
    module: str
    tests: tuple[str, ...]
    #: A pytest -k expression narrowing `tests` to those about this module (time bound).
    select: str | None = None


TARGETS = [
    Target(
        "throttle",
        USER_SERVICE,
        "user_service/throttle.py",
        (f"{USER_TESTS}/test_user_throttle.py", f"{USER_TESTS}/test_user_signup.py"),
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
        (f"{USER_TESTS}/test_user_api.py", f"{USER_TESTS}/test_user_hostile.py"),
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
]
