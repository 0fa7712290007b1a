"""pytest_microstack._reports.masking: secrets hidden by key and by value, in data and in text."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_microstack._reports.masking import MASK, Masker, is_sensitive, run_secret_values, secret_values

SECRET = "s3cr3t-value-of-the-run"


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("USER_SERVICE_SECRET_KEY", True),
        ("API_TOKEN", True),
        ("db_password", True),
        ("SSH_KEY", True),
        ("DB_PASS", True),
        ("MYSQL_PWD", True),
        ("mysql.pwd", True),
        ("API_AUTH", True),
        ("HTTP_AUTHORIZATION", True),
        ("GREETING", False),
        ("DATABASE_PATH", False),
        # The shell's working directories: paths every report names, no secret.
        ("PWD", False),
        ("OLDPWD", False),
        ("PWDX", False),
    ],
)
def test_keys_that_look_secret(key: str, sensitive: bool) -> None:
    assert is_sensitive(key) is sensitive


def test_secret_values_are_the_declared_secrets_and_sensitive_variables() -> None:
    environment = {"RUN_SECRET": SECRET, "API_TOKEN": "token-1234", "GREETING": "hello there", "PIN_KEY": "1"}

    values = secret_values(environment, ["RUN_SECRET"])

    assert values == {SECRET, "token-1234"}  # "1" is too short to replace everywhere


def test_run_secret_values_add_the_hosts_sensitive_variables() -> None:
    host = {"DB_PASS": "host-db-pass", "MYSQL_PWD": "host-mysql-pwd", "PWD": "/work/project", "HOME": "/root"}

    values = run_secret_values({"RUN_SECRET": SECRET}, ["RUN_SECRET"], host)

    assert values == {SECRET, "host-db-pass", "host-mysql-pwd"}


def test_run_secret_values_read_this_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_AUTH", "host-api-auth-value")

    assert "host-api-auth-value" in run_secret_values({}, [])


def test_text_has_every_secret_value_replaced() -> None:
    masker = Masker([SECRET, "other-secret"])

    assert masker.text(f"started with {SECRET} and other-secret") == f"started with {MASK} and {MASK}"


def test_a_secret_containing_another_is_masked_whole() -> None:
    masker = Masker(["abcd", "abcdefgh"])

    assert masker.text("x abcdefgh y") == f"x {MASK} y"


def test_compose_config_is_masked_by_key_and_by_value() -> None:
    config: dict[str, Any] = {
        "services": {
            "web": {
                "environment": {
                    "SECRET_KEY": "from-a-fixed-file",
                    "GREETING": "hello",
                    "URL": f"http://u:{SECRET}@db",
                },
                "command": ["serve", "--port", "8080"],
                "healthcheck": {"retries": 3},
            }
        },
        "secrets": {"db_password": {"file": "./db.txt"}},
    }

    masked = Masker([SECRET]).data(config)

    web = masked["services"]["web"]
    assert web["environment"] == {"SECRET_KEY": MASK, "GREETING": "hello", "URL": f"http://u:{MASK}@db"}
    assert web["command"] == ["serve", "--port", "8080"]
    assert web["healthcheck"] == {"retries": 3}
    assert masked["secrets"] == {"db_password": {"file": MASK}}
    assert config["services"]["web"]["environment"]["SECRET_KEY"] == "from-a-fixed-file"  # a copy


def test_inspect_environment_lists_are_masked() -> None:
    attrs = {"Config": {"Env": [f"RUN_SECRET={SECRET}", "API_TOKEN=abc123456", "PATH=/usr/bin", "ODD"]}}

    masked = Masker([SECRET]).data(attrs)

    assert masked["Config"]["Env"] == [f"RUN_SECRET={MASK}", f"API_TOKEN={MASK}", "PATH=/usr/bin", "ODD"]
