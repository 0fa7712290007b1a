"""tests.harness.lifecycle: open_stack's order of steps and its teardown, engine and CLI faked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from pytest_httpserver import HTTPServer
from testcontainers.compose import compose as testcontainers_compose

from tests.harness import cleanup, lifecycle
from tests.harness.errors import StackStartError
from tests.harness.images import source_digest
from tests.harness.lifecycle import PENDING_TAG, StackSettings, describe_kept, engine_host, open_stack
from tests.harness.ownership import CONFIG_LABEL, KEEP_LABEL, OWNER_LABEL, Owner, owner_labels
from tests.harness.stack import ServiceSpec, Stack
from tests.unit.fakes import Call, FakeCompose, FakeEngine, FakeProcesses

SERVICES = (ServiceSpec("user-service", 5000), ServiceSpec("product-service", 5001))
PORTS = {"user-service": 5000, "product-service": 5001}
BASE_IMAGE = "itest-local/python:3.11"
GLOBAL_OPTIONS = {"-f", "--project-name", "--profile", "--env-file"}


def compose_config() -> dict[str, Any]:
    """What `docker compose config --format json` prints for the project."""
    return {
        "name": "microstack",
        "services": {
            name: {
                "build": {"context": "services", "args": {"BASE_IMAGE": BASE_IMAGE}},
                "image": f"microstack/{name}:{PENDING_TAG}",
                **({"depends_on": {"user-service": {"condition": "service_started"}}} if i else {}),
            }
            for i, name in enumerate(PORTS)
        },
        "volumes": {"user-data": {"name": "microstack_user-data"}},
    }


@dataclass
class FakeComposeCLI:
    """`docker compose` run through FakeProcesses: config, build, up and down on the fake engine."""

    engine: FakeEngine
    health_port: int
    exit_on_up: int | None = None  # start user-service already exited with this code
    commands: list[tuple[str, list[str], dict[str, str]]] = field(default_factory=list)
    override_text: str = ""

    def __call__(self, command: list[str], kwargs: dict[str, Any]) -> tuple[int, bytes, bytes]:
        args = iter(command[2:])
        files, project, subcommand = [], "", ""
        for arg in args:
            if arg in GLOBAL_OPTIONS:
                value = next(args)
                files += [value] if arg == "-f" else []
                project = value if arg == "--project-name" else project
            else:
                subcommand = arg
                break
        env: dict[str, str] = kwargs["env"]
        self.commands.append((subcommand, files, env))
        self.engine.calls.append(Call("compose", subcommand, {"project": project}))
        stdout = b""
        if subcommand == "config":
            stdout = json.dumps(compose_config()).encode()
        elif subcommand == "up":
            self._up(project, files)
        elif subcommand == "down":
            for ident, attrs in list(self.engine.container_attrs.items()):
                if attrs["Config"]["Labels"].get("com.docker.compose.project") == project:
                    del self.engine.container_attrs[ident]
        return 0, stdout, b""

    def _up(self, project: str, files: list[str]) -> None:
        override = Path(files[-1]).read_text()
        self.override_text = override
        labels = dict(
            (key, json.loads(value)) for key, value in re.findall(r"^ {6}(\S+): (\".*\")$", override, re.M)
        )
        for service, port in PORTS.items():
            exited = service == "user-service" and self.exit_on_up is not None
            self.engine.add_container(
                f"{project}-{service}-1",
                project=project,
                service=service,
                labels=labels,
                status="exited" if exited else "running",
                exit_code=self.exit_on_up or 0,
                ports={port: self.health_port},
                logs=b"RuntimeError: SECRET_KEY is not set\n" if exited else b"",
            )

    def subcommands(self) -> list[str]:
        return [subcommand for subcommand, _, _ in self.commands]

    def env_of(self, subcommand: str) -> dict[str, str]:
        return next(env for sub, _, env in self.commands if sub == subcommand)


@dataclass
class FakeDockerClient:
    """testcontainers' DockerClient: the engine as `.client` and the engine's host."""

    client: FakeEngine
    engine_hostname: str = "localhost"

    def host(self) -> str:
        return self.engine_hostname


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "checkout"
    (project / "services/user-service").mkdir(parents=True)
    (project / "services/user-service/app.py").write_text("app = 1\n")
    (project / "compose.yaml").write_text("services: {}\n")
    return project


@pytest.fixture
def cli(
    engine: FakeEngine, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> FakeComposeCLI:
    fake = FakeComposeCLI(engine, httpserver.port)
    httpserver.expect_request("/health").respond_with_data("ok")
    monkeypatch.setattr(lifecycle, "DockerClient", lambda: FakeDockerClient(engine))
    monkeypatch.setattr(subprocess, "Popen", FakeProcesses(fake))
    monkeypatch.setattr(testcontainers_compose, "_default_compose_binary", lambda: "docker")
    monkeypatch.setattr(cleanup, "_teardowns", {})
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    return fake


def containers_of(engine: FakeEngine, project: str) -> list[str]:
    return [
        ident
        for ident, attrs in engine.container_attrs.items()
        if attrs["Config"]["Labels"].get("com.docker.compose.project") == project
    ]


def settings(root: Path, **kwargs: Any) -> StackSettings:
    options: dict[str, Any] = {
        "root": root,
        "services": SERVICES,
        "run_id": "CAFE1234",
        "worker": "gw3",
        "startup_timeout": 10.0,
        **kwargs,
    }
    return StackSettings(**options)


def test_project_name_comes_from_run_id_and_worker(root: Path) -> None:
    assert settings(root).project == "microstack-it-cafe1234-gw3"


def test_open_stack_yields_a_healthy_stack_and_tears_it_down(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, httpserver: HTTPServer
) -> None:
    engine.images.present[BASE_IMAGE] = "sha256:base"
    chosen = settings(root, environment={"LOG_LEVEL": "DEBUG"})

    with open_stack(chosen) as stack:
        assert stack.project == chosen.project
        assert stack.url("user-service") == f"http://127.0.0.1:{httpserver.port}"
        assert stack.project in cleanup._teardowns, "a backstop is registered while the stack is up"
        assert cli.subcommands() == ["config", "build", "up"]
        assert len(containers_of(engine, chosen.project)) == 2

    assert stack.project not in cleanup._teardowns
    assert containers_of(engine, chosen.project) == [], "torn down on exit"

    tag = source_digest(root / "services", "sha256:base")
    assert cli.env_of("config")["IMAGE_TAG"] == PENDING_TAG
    assert cli.env_of("up")["IMAGE_TAG"] == tag
    assert cli.env_of("build")["IMAGE_TAG"] == tag
    up_env = cli.env_of("up")
    assert len(up_env["USER_SERVICE_SECRET_KEY"]) >= 32
    assert up_env["PUBLISH_HOST"] == "127.0.0.1"
    assert up_env["LOG_LEVEL"] == "DEBUG"
    assert "USER_SERVICE_SECRET_KEY" not in cli.env_of("config"), "the per-run secret stays out of the config"


def test_the_override_labels_the_stack_with_this_process_as_owner(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    with open_stack(settings(root)) as stack:
        container = stack.container("user-service")
        assert container is not None
        labels = container.labels
        _, files, _ = next(c for c in cli.commands if c[0] == "up")
        assert files[0] == "compose.yaml"
        assert files[-1].endswith("compose.harness.yaml")

    assert labels[OWNER_LABEL] == Owner.current().label()
    assert labels[KEEP_LABEL] == "false"
    assert labels[CONFIG_LABEL]
    assert "depends_on: !reset {}" in cli.override_text
    assert not Path(files[-1]).exists(), "the override is a temporary file"


def test_leftovers_of_dead_runs_are_swept_before_anything_else(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    dead = Owner(Owner.current().host, os.getpid(), "not-my-start-time")
    leftover = engine.add_container(
        "old-run-api-1",
        project="microstack-it-old-main",
        labels=owner_labels(dead, keep=False, config_hash="x"),
    )

    with open_stack(settings(root)):
        pass

    timeline = [(c.method, c.ident) for c in engine.calls if c.method in {"compose", "remove_container"}]
    assert timeline[0] == ("remove_container", leftover)
    assert leftover not in engine.container_attrs


def test_images_already_built_are_not_built_again(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    engine.images.present[BASE_IMAGE] = "sha256:base"
    tag = source_digest(root / "services", "sha256:base")
    for name in PORTS:
        engine.images.present[f"microstack/{name}:{tag}"] = f"sha256:{name}"

    with open_stack(settings(root)):
        pass

    assert "build" not in cli.subcommands()


def test_a_failed_start_raises_with_diagnostics_and_still_tears_down(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    cli.exit_on_up = 2
    chosen = settings(root)

    with pytest.raises(StackStartError) as caught, open_stack(chosen):
        pytest.fail("the body must not run when the stack did not start")

    assert "exit code 2" in str(caught.value)
    assert "SECRET_KEY is not set" in str(caught.value)
    assert containers_of(engine, chosen.project) == []
    assert chosen.project not in cleanup._teardowns


def test_an_error_in_the_body_still_tears_down(root: Path, cli: FakeComposeCLI, engine: FakeEngine) -> None:
    chosen = settings(root)

    seen_inside: list[str] = []

    def interrupted_run() -> None:
        with open_stack(chosen):
            seen_inside.extend(containers_of(engine, chosen.project))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_run()

    assert len(seen_inside) == 2
    assert containers_of(engine, chosen.project) == []
    assert chosen.project not in cleanup._teardowns


def test_after_ctrl_c_the_teardown_started_by_the_signal_finishes_at_exit(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    chosen = settings(root)

    def interrupted_run() -> None:
        with open_stack(chosen):
            for thread in cleanup.start_all_in_background():  # what the SIGINT handler does
                thread.join(timeout=10)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_run()

    assert containers_of(engine, chosen.project) == []
    assert chosen.project in cleanup._teardowns, "left to the atexit backstop, which waits for it"
    cleanup.run_all()
    assert chosen.project not in cleanup._teardowns


def test_a_kept_stack_is_left_up_and_reused_by_a_later_run(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    with open_stack(settings(root, keep=True)) as kept:
        assert kept.project not in cleanup._teardowns, "a kept stack has no backstop"
    running = containers_of(engine, kept.project)
    assert len(running) == 2, "left running"
    container = kept.container("user-service")
    assert container is not None
    assert container.labels[KEEP_LABEL] == "true"

    with open_stack(settings(root, reuse=True, run_id="other", worker="main")) as reused:
        assert reused.project == kept.project
        assert reused.url("product-service") == kept.url("product-service")

    assert cli.subcommands().count("up") == 1, "attached, not started again"
    assert containers_of(engine, kept.project) == running, "and not torn down either"


def test_reuse_starts_and_keeps_a_stack_when_none_matches(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    with open_stack(settings(root, reuse=True)) as stack:
        pass

    assert cli.subcommands().count("up") == 1
    assert len(containers_of(engine, stack.project)) == 2, "kept"
    container = stack.container("user-service")
    assert container is not None
    assert container.labels[KEEP_LABEL] == "true"


def test_a_kept_stack_that_fails_to_start_is_torn_down(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    cli.exit_on_up = 1
    chosen = settings(root, keep=True)

    with pytest.raises(StackStartError), open_stack(chosen):
        pass

    assert containers_of(engine, chosen.project) == []


@pytest.mark.parametrize(
    ("docker_host", "expected"),
    [
        pytest.param("localhost", "127.0.0.1", id="local-socket"),
        pytest.param("127.0.0.1", "127.0.0.1", id="loopback"),
        pytest.param("docker.example", "docker.example", id="remote-engine"),
    ],
)
def test_engine_host(docker_host: str, expected: str) -> None:
    assert engine_host(cast(Any, FakeDockerClient(FakeEngine(), docker_host))) == expected


def test_a_remote_engine_publishes_on_all_interfaces(
    root: Path, cli: FakeComposeCLI, monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    monkeypatch.setattr(lifecycle, "DockerClient", lambda: FakeDockerClient(engine, "127.0.0.2"))

    # The test server does not listen on 127.0.0.2, so the stack can't come up.
    with pytest.raises(StackStartError), open_stack(settings(root, startup_timeout=0.2)):
        pass

    assert cli.env_of("up")["PUBLISH_HOST"] == "0.0.0.0"


def test_the_compose_config_is_read_once_while_nothing_changes(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    for worker in ("gw0", "gw1"):
        with open_stack(settings(root, worker=worker)):
            pass
    assert cli.subcommands().count("config") == 1

    (root / "compose.yaml").write_text("services: {}\n# changed\n")
    with open_stack(settings(root, worker="gw2")):
        pass
    assert cli.subcommands().count("config") == 2


def test_describe_kept_names_urls_and_how_to_remove(engine: FakeEngine) -> None:
    for service, port in PORTS.items():
        engine.add_container(f"p-{service}-1", project="p", service=service, ports={port: port + 30000})
    stack = Stack(cast(Any, FakeCompose(project_name="p")), cast(Any, engine), "127.0.0.1", SERVICES, 1)

    text = describe_kept(stack)

    assert "stack p left running" in text
    assert "user-service http://127.0.0.1:35000" in text
    assert "product-service http://127.0.0.1:35001" in text
    assert "docker compose -p p down -v" in text
