"""pytest_microstack._settings: the stack's declaration, from ini lines or code, with bad input named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_microstack import read_settings
from pytest_microstack._errors import SettingsError
from pytest_microstack._settings import (
    COMPOSE_FILE_NAMES,
    ServiceSpec,
    StackSettings,
    default_compose_files,
    parse_environment,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("api", ServiceSpec("api", check="running"), id="name-only-is-running"),
        pytest.param("api http 5000", ServiceSpec("api", 5000, "/health", "http"), id="http-default-path"),
        pytest.param("api http 5000 /ready", ServiceSpec("api", 5000, "/ready", "http"), id="http-with-path"),
        pytest.param(
            "api  http\t5000  /v1/health?deep=1", ServiceSpec("api", 5000, "/v1/health?deep=1"), id="spacing"
        ),
        pytest.param("db tcp 5432", ServiceSpec("db", 5432, check="tcp"), id="tcp"),
        pytest.param("worker docker", ServiceSpec("worker", check="docker"), id="docker"),
        pytest.param("cron running", ServiceSpec("cron", check="running"), id="running"),
        pytest.param("'odd name' http 80", ServiceSpec("odd name", 80), id="quoted-name"),
    ],
)
def test_parse_each_form(line: str, expected: ServiceSpec) -> None:
    assert ServiceSpec.parse(line) == expected


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param(
            "api ftp 21", "check 'ftp' is not one of http, tcp, docker, running", id="unknown-check"
        ),
        pytest.param("api http", "http needs a container port", id="http-without-port"),
        pytest.param("api http /health", "http needs a container port", id="http-path-for-port"),
        pytest.param("db tcp", "tcp needs a container port", id="tcp-without-port"),
        pytest.param("db tcp five", "tcp needs a container port", id="port-not-a-number"),
        pytest.param("db tcp -1", "tcp needs a container port", id="negative-port"),
        pytest.param("api http 5000 health", "the health path must start with /", id="relative-path"),
        pytest.param("api 'http 5000", "No closing quotation", id="unbalanced-quote"),
    ],
)
def test_a_bad_line_is_refused_naming_the_line(line: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        ServiceSpec.parse(line)

    message = str(caught.value)
    assert message.startswith(f"stack_services line {line!r}: "), message
    assert problem in message


@pytest.mark.parametrize("line", ["", "   "])
def test_an_empty_line_is_refused(line: str) -> None:
    with pytest.raises(SettingsError, match="stack_services: empty service line"):
        ServiceSpec.parse(line)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        pytest.param({"check": "ftp"}, "service 'api': check 'ftp' is not one of", id="unknown-check"),
        pytest.param({"check": "http"}, "service 'api': a http check needs a container port", id="http"),
        pytest.param({"check": "tcp"}, "service 'api': a tcp check needs a container port", id="tcp"),
    ],
)
def test_a_spec_made_in_code_is_checked_too(kwargs: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        ServiceSpec("api", **kwargs)  # type: ignore[arg-type]


def test_parse_environment() -> None:
    lines = ["A=1", " B = two words ", "URL=http://x/?q=a=b", "EMPTY=", "HEALTHCHECK_INTERVAL=30s"]

    assert parse_environment(lines) == {
        "A": "1",
        "B": "two words",
        "URL": "http://x/?q=a=b",
        "EMPTY": "",
        "HEALTHCHECK_INTERVAL": "30s",
    }
    assert parse_environment([]) == {}


@pytest.mark.parametrize("line", ["NO_VALUE", "=value", " =value"])
def test_a_bad_environment_line_is_refused_naming_it(line: str) -> None:
    with pytest.raises(SettingsError, match=f"stack_environment line {line!r}: expected KEY=VALUE"):
        parse_environment(["OK=1", line])


# --- StackSettings ------------------------------------------------------------------------------

SERVICES = (ServiceSpec("api", 5000), ServiceSpec("worker", check="docker"))


def test_project_name_comes_from_run_id_and_worker(tmp_path: Path) -> None:
    assert (
        StackSettings(tmp_path, SERVICES, run_id="CAFE1234", worker="gw3").project
        == "microstack-it-cafe1234-gw3"
    )


def test_compose_paths_are_under_the_root(tmp_path: Path) -> None:
    settings = StackSettings(tmp_path, SERVICES, "r", compose_files=("compose.yaml", "ci/extra.yaml"))
    assert settings.compose_paths == [tmp_path / "compose.yaml", tmp_path / "ci/extra.yaml"]


@pytest.mark.parametrize("present", [COMPOSE_FILE_NAMES[i:] for i in range(len(COMPOSE_FILE_NAMES))])
def test_default_compose_file_is_the_one_docker_compose_would_pick(
    tmp_path: Path, present: tuple[str, ...]
) -> None:
    for name in present:
        (tmp_path / name).write_text("services: {}\n")

    assert default_compose_files(tmp_path) == (present[0],)


def test_without_any_compose_file_the_default_is_compose_yaml(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").mkdir()  # a folder of that name is not a compose file
    assert default_compose_files(tmp_path) == ("compose.yaml",)


# --- settings_from_ini_file ---------------------------------------------------------------------

INI = """\
[pytest]
addopts = -ra
stack_compose_files = compose.yaml compose.ci.yaml
stack_services =
    api     http 5000 /health
    db      tcp 5432
    worker  docker
stack_secrets = API_SECRET OTHER_SECRET
stack_environment =
    HEALTHCHECK_INTERVAL=30s
    LOG_LEVEL = DEBUG
stack_timeout = 90
stack_parallel_start = true
"""


def test_settings_from_ini_file_reads_every_option(tmp_path: Path) -> None:
    ini = tmp_path / "pytest.ini"
    ini.write_text(INI)

    settings = read_settings(ini, run_id="r1", worker="bench")

    assert settings == StackSettings(
        root=tmp_path,
        services=(
            ServiceSpec("api", 5000),
            ServiceSpec("db", 5432, check="tcp"),
            ServiceSpec("worker", check="docker"),
        ),
        run_id="r1",
        worker="bench",
        compose_files=("compose.yaml", "compose.ci.yaml"),
        stack_timeout=90.0,
        environment={"HEALTHCHECK_INTERVAL": "30s", "LOG_LEVEL": "DEBUG"},
        secrets=("API_SECRET", "OTHER_SECRET"),
        parallel_start=True,
    )


def test_settings_from_an_ini_file_without_a_pytest_section_are_the_defaults(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text("[tox]\nenvlist = py311\n")
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")

    settings = read_settings(ini, run_id="r1")

    assert settings == StackSettings(tmp_path, (), "r1", compose_files=("docker-compose.yml",))


def test_a_bad_line_in_an_ini_file_is_refused_naming_it(tmp_path: Path) -> None:
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\nstack_services =\n    api http 5000\n    db tcp\n")

    with pytest.raises(SettingsError, match="stack_services line 'db tcp': tcp needs a container port"):
        read_settings(ini, run_id="r1")


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        pytest.param("api docker 5000", "unexpected '5000' after docker", id="port-on-docker"),
        pytest.param("db tcp 5432 /x", "unexpected '/x' after tcp", id="path-on-tcp"),
        pytest.param("api http 80 /a /b", "unexpected '/b' after http", id="two-paths"),
        pytest.param("api http 0", "needs a container port (1-65535)", id="port-zero"),
        pytest.param("api http 70000", "needs a container port (1-65535)", id="port-too-big"),
    ],
)
def test_lines_with_extra_words_or_impossible_ports_are_refused(line: str, complaint: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(complaint)) as caught:
        ServiceSpec.parse(line)

    assert repr(line) in str(caught.value)


def test_a_bad_timeout_in_an_ini_file_is_a_settings_error(tmp_path: Path) -> None:
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\nstack_timeout = soon\n")

    with pytest.raises(SettingsError, match="stack_timeout: 'soon'"):
        read_settings(ini, run_id="r")
