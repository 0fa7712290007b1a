"""_reports.failure_report (and run_state.RunState.save_report): what is kept of a failed stack."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import docker.errors
import pytest
import yaml
from pytest_microstack._core.reader import PytestSource, artifacts_folder
from pytest_microstack._core.stack import ComposeStack
from pytest_microstack._errors import ComposeCommandError
from pytest_microstack._reports.failure_report import (
    CONFIG_FILE,
    CONTAINERS_FILE,
    SUMMARY_FILE,
    folder_name,
    save_report,
)
from pytest_microstack._reports.masking import MASK, Masker
from pytest_microstack._session.run_state import RunState
from pytest_microstack._settings import ServiceSpec

from unit.fakes import FakeCompose, FakeEngine

PROJECT = "microstack-it-f00d-main"
SECRET = "per-run-secret-0123456789"


@dataclass
class ConfiguredCompose(FakeCompose):
    """A FakeCompose that also has the per-run environment and answers `compose config`."""

    environment: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None

    def get_config(self) -> dict[str, Any]:
        if self.config is None:
            raise ComposeCommandError(["docker", "compose", "config"], 1, "", "no such file: override")
        return self.config


def make_stack(engine: FakeEngine, config: dict[str, Any] | None) -> ComposeStack:
    compose = ConfiguredCompose(project_name=PROJECT, environment={"RUN_SECRET": SECRET}, config=config)
    return ComposeStack(cast(Any, compose), cast(Any, engine), "127.0.0.1", [ServiceSpec("api", 5000)], 10)


def add_stack_containers(engine: FakeEngine) -> None:
    engine.add_container(
        f"{PROJECT}-api-1",
        project=PROJECT,
        service="api",
        env=[f"RUN_SECRET={SECRET}", "GREETING=hi"],
        logs=f"booting\nloaded key {SECRET}\nlistening\n".encode(),
    )
    # A service the project doesn't declare is still part of what failed.
    engine.add_container(
        f"{PROJECT}-db-1", project=PROJECT, service="db", status="exited", exit_code=1, logs=b"db died\n"
    )
    engine.add_container("someone-else-api-1", project="someone-else", service="api", logs=b"not ours\n")


def test_every_container_of_the_project_gets_its_full_log_and_inspect_with_secrets_masked(
    engine: FakeEngine, tmp_path: Path
) -> None:
    add_stack_containers(engine)
    config = {
        "services": {
            "api": {
                "environment": {"SECRET_KEY": SECRET, "GREETING": "hi"},
                "labels": {"io.microstack.harness": "1"},
            }
        }
    }

    folder = save_report(
        make_stack(engine, config), tmp_path / "report", Masker([SECRET]), "test: t.py::test_x\nboom"
    )

    assert sorted(p.name for p in folder.iterdir()) == [
        "api-1.inspect.json",
        "api-1.log",
        CONFIG_FILE,
        CONTAINERS_FILE,
        "db-1.inspect.json",
        "db-1.log",
        SUMMARY_FILE,
    ]
    assert (folder / "api-1.log").read_text() == f"booting\nloaded key {MASK}\nlistening\n"
    assert (folder / "db-1.log").read_text() == "db died\n"
    inspect = json.loads((folder / "api-1.inspect.json").read_text())
    assert inspect["Config"]["Env"] == [f"RUN_SECRET={MASK}", "GREETING=hi"]
    effective = yaml.safe_load((folder / CONFIG_FILE).read_text())
    assert effective["services"]["api"]["environment"] == {"SECRET_KEY": MASK, "GREETING": "hi"}
    assert effective["services"]["api"]["labels"] == {"io.microstack.harness": "1"}
    assert (folder / CONTAINERS_FILE).read_text().splitlines() == [
        f"api  {PROJECT}-api-1  running",
        f"db  {PROJECT}-db-1  exited",
    ]
    assert "boom" in (folder / SUMMARY_FILE).read_text()
    assert all(SECRET not in path.read_text() for path in folder.iterdir())


def test_a_part_that_cannot_be_had_is_replaced_by_a_note_and_the_rest_is_saved(
    engine: FakeEngine, tmp_path: Path
) -> None:
    add_stack_containers(engine)
    api = next(i for i, a in engine.container_attrs.items() if a["Name"] == f"/{PROJECT}-api-1")
    engine.fail_on[("logs", api)] = docker.errors.APIError("log driver none")

    folder = save_report(make_stack(engine, None), tmp_path / "report", Masker([SECRET]), "start-up failed")

    assert (folder / "api-1.log").read_text().startswith("(unavailable: APIError: log driver none")
    assert (folder / CONFIG_FILE).read_text().startswith("(unavailable: ComposeCommandError:")
    assert (folder / "db-1.log").read_text() == "db died\n"


def test_a_container_removed_while_the_report_is_taken_is_left_out(
    either_engine: FakeEngine, tmp_path: Path
) -> None:
    add_stack_containers(either_engine)
    db = next(i for i, a in either_engine.container_attrs.items() if a["Name"] == f"/{PROJECT}-db-1")
    either_engine.removed_while_listing.add(db)

    folder = save_report(make_stack(either_engine, None), tmp_path / "report", Masker([]), "failed")

    assert (folder / CONTAINERS_FILE).read_text().splitlines() == [f"api  {PROJECT}-api-1  running"]
    assert (folder / "api-1.log").is_file()
    assert not (folder / "db-1.log").exists()


def test_the_report_names_the_engine(either_engine: FakeEngine, tmp_path: Path) -> None:
    folder = save_report(make_stack(either_engine, {"services": {}}), tmp_path / "r", Masker([]), "failed")

    expected = (
        "Docker 20.10.24+dfsg1 (API 1.41)" if either_engine.kind == "docker" else "Podman 4.3.1 (API 1.41)"
    )
    assert (folder / SUMMARY_FILE).read_text().splitlines()[:2] == [
        f"project: {PROJECT}",
        f"engine: {expected}",
    ]


def test_a_project_without_containers_still_says_what_failed(engine: FakeEngine, tmp_path: Path) -> None:
    folder = save_report(
        make_stack(engine, {"services": {}}), tmp_path / "r", Masker([]), "compose up failed"
    )

    assert (folder / CONTAINERS_FILE).read_text() == "(no containers)\n"
    assert "compose up failed" in (folder / SUMMARY_FILE).read_text()


def test_folder_names_are_safe_and_distinct() -> None:
    first = folder_name("tests/test_a.py::test_x[param/1]")
    second = folder_name("tests/test_a.py::test_x[param:1]")

    assert first != second
    assert "/" not in first
    assert ":" not in first
    assert first.startswith("tests_test_a.py_test_x_param_1")
    assert folder_name("startup-microstack-it-ab12-gw0") == "startup-microstack-it-ab12-gw0"


def fake_config(root: Path, option: str | None = None, ini: str = "") -> Any:
    return SimpleNamespace(
        rootpath=root,
        getoption=lambda name, default=None: option,
        getini=lambda name: ini,
        addinivalue_line=lambda name, line: None,  # RunState registers its markers
        pluginmanager=SimpleNamespace(get_plugin=lambda name: None),  # no terminal, no logging to mask
    )


def test_the_run_folder_is_named_by_the_run_id_under_the_ini_folder(tmp_path: Path) -> None:
    def folder(config: Any) -> Path:
        return artifacts_folder(PytestSource(config), "ab12cd34")

    assert folder(fake_config(tmp_path)) == tmp_path / ".artifacts" / "ab12cd34"
    assert folder(fake_config(tmp_path, ini="reports")) == tmp_path / "reports" / "ab12cd34"
    chosen = tmp_path / "shard-1"
    assert folder(fake_config(tmp_path, option=str(chosen))) == chosen


def test_run_reports_save_into_the_run_folder_masking_the_declared_secrets(
    engine: FakeEngine, tmp_path: Path
) -> None:
    add_stack_containers(engine)
    reports = RunState(fake_config(tmp_path))
    reports.settings.artifacts = tmp_path / "run"

    reports.save_report(make_stack(engine, {"services": {}}), ["RUN_SECRET"], "tests/t.py::test_x", "failed")

    [saved] = reports.summary.reports
    assert Path(saved).parent == tmp_path / "run"
    assert (Path(saved) / "api-1.log").read_text() == f"booting\nloaded key {MASK}\nlistening\n"


HOST_SECRETS = {
    "DB_PASS": "host-db-pass-1234",
    "MYSQL_PWD": "host-mysql-pwd-5678",
    "API_AUTH": "host-api-auth-9abc",
}
DECLARED = "declared-secret-under-a-plain-name"


def test_every_file_of_a_run_report_masks_declared_run_and_host_secrets(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18, 8: secrets of each kind planted in logs, inspect data and config; grep every file."""
    for name, value in HOST_SECRETS.items():
        monkeypatch.setenv(name, value)
    planted = [SECRET, DECLARED, *HOST_SECRETS.values()]
    everything = " ".join(planted)
    engine.add_container(
        f"{PROJECT}-api-1",
        project=PROJECT,
        service="api",
        env=[f"RUN_SECRET={SECRET}", f"PLAIN={DECLARED}", *(f"COPY{i}={v}" for i, v in enumerate(planted))],
        logs=f"booting with {everything}\n".encode(),
    )
    config = {"services": {"api": {"environment": {"PLAIN": DECLARED, "NOTE": everything}}}}
    compose = ConfiguredCompose(
        project_name=PROJECT, environment={"RUN_SECRET": SECRET, "PLAIN": DECLARED}, config=config
    )
    stack = ComposeStack(cast(Any, compose), cast(Any, engine), "127.0.0.1", [ServiceSpec("api", 5000)], 10)
    reports = RunState(fake_config(tmp_path))
    reports.settings.artifacts = tmp_path / "run"

    reports.save_report(stack, ["PLAIN"], "tests/t.py::test_x", f"assert {everything!r} == ''")

    written = [path for path in (tmp_path / "run").rglob("*") if path.is_file()]
    assert {path.name for path in written} >= {SUMMARY_FILE, CONFIG_FILE, "api-1.log", "api-1.inspect.json"}
    for path in written:
        text = path.read_text()
        leaked = [value for value in planted if value in text]
        assert leaked == [], f"{path.name} shows {leaked}"
    assert MASK in (tmp_path / "run").joinpath(folder_name("tests/t.py::test_x"), "api-1.log").read_text()


def test_the_unavailable_note_is_masked_too(engine: FakeEngine, tmp_path: Path) -> None:
    """Issue 24 §8: an error quoting a secret (a compose error echoing the environment) came out as it was."""
    add_stack_containers(engine)
    api = next(i for i, a in engine.container_attrs.items() if a["Name"] == f"/{PROJECT}-api-1")
    engine.fail_on[("logs", api)] = docker.errors.APIError(f"bad option key={SECRET}")
    stack = make_stack(engine, None)
    cast(Any, stack.compose).get_config = lambda: (_ for _ in ()).throw(
        RuntimeError(f"env RUN_SECRET={SECRET}")
    )

    folder = save_report(stack, tmp_path / "report", Masker([SECRET]), "start-up failed")

    assert (folder / "api-1.log").read_text() == f"(unavailable: APIError: bad option key={MASK})\n"
    assert (folder / CONFIG_FILE).read_text() == f"(unavailable: RuntimeError: env RUN_SECRET={MASK})\n"
    assert all(SECRET not in path.read_text() for path in folder.iterdir())
