"""pytest_microstack._core.lifecycle: open_stack's order of steps and its teardown, engine and CLI faked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import pytest
from pytest_httpserver import HTTPServer
from pytest_microstack._cleanup import backstop, reaper
from pytest_microstack._core.lifecycle import (
    _config_hash,
    declared_services,
    open_stack_with,
    per_run_environment,
    prepare_images_with,
)
from pytest_microstack._engine.engine import Engine
from pytest_microstack._engine.images import TAG_PREFIX, ImagePlan, own_project_name, plan_images
from pytest_microstack._errors import (
    ComposeCommandError,
    EngineUnsupportedError,
    StackConfigError,
    StackStartError,
)
from pytest_microstack._ownership import (
    CONFIG_LABEL,
    HARNESS_LABEL,
    KEEP_LABEL,
    OWNER_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    Owner,
    owner_labels,
)
from pytest_microstack._settings import ServiceSpec, StackSettings, TeardownPolicy
from testcontainers.compose import compose as testcontainers_compose

from unit.compose_yaml import Tag, load_compose
from unit.fakes import Call, FakeEngine, FakeProcesses

SERVICES = (ServiceSpec("user-service", 5000), ServiceSpec("product-service", 5001))
PORTS = {"user-service": 5000, "product-service": 5001}
BASE_IMAGE = "itest-local/python:3.11"
SECRET = "USER_SERVICE_SECRET_KEY"
GLOBAL_OPTIONS = {"-f", "--project-name", "--profile", "--env-file"}
DOCKERFILE = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG SERVICE\nCOPY ${SERVICE} /app\n"


def compose_config(root: Path) -> dict[str, Any]:
    """What `docker compose config --format json` prints for the project: contexts made absolute."""
    return {
        "name": "microstack",
        "services": {
            name: {
                "build": {
                    "context": str(root / "services"),
                    "dockerfile": "Dockerfile",
                    "args": {"BASE_IMAGE": BASE_IMAGE, "SERVICE": name},
                },
                "image": f"microstack/{name}:dev",
                "ports": [
                    {"mode": "ingress", "host_ip": "127.0.0.1", "target": port, "published": str(port)}
                ],
                **({"depends_on": {"user-service": {"condition": "service_started"}}} if i else {}),
            }
            for i, (name, port) in enumerate(PORTS.items())
        },
        "volumes": {"user-data": {"name": "microstack_user-data"}},
    }


@dataclass
class Command:
    subcommand: str
    files: list[str]
    project: str
    args: list[str]
    env: dict[str, str]


@dataclass
class FakeComposeCLI:
    """`docker compose` run through FakeProcesses: config, build, up and down on the fake engine.

    `build` makes the images the override names for the services it is given;
    `up` refuses, as compose without a registry would, to run a built service
    whose image is missing, and publishes each port as the override says.
    """

    engine: FakeEngine
    root: Path
    health_port: int
    exit_on_up: int | None = None  # start user-service already exited with this code
    up_error: str = ""  # `up` fails with this on stderr before creating anything
    commands: list[Command] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)  # read at each build and up
    config: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.config = compose_config(self.root)

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
        rest = list(args)
        self.commands.append(Command(subcommand, files, project, rest, kwargs["env"]))
        self.engine.calls.append(Call("compose", subcommand, {"project": project}))
        if subcommand == "config":
            # As compose does: with -p, the config is named after the project given.
            return 0, json.dumps({**self.config, "name": project or self.config["name"]}).encode(), b""
        if subcommand == "build":
            return self._build(files, [arg for arg in rest if not arg.startswith("-")])
        if subcommand == "up":
            return self._up(project, files)
        if subcommand == "down":
            for ident, attrs in list(self.engine.container_attrs.items()):
                if attrs["Config"]["Labels"].get(PROJECT_LABEL) == project:
                    del self.engine.container_attrs[ident]
        return 0, b"", b""

    def _override(self, files: list[str]) -> dict[str, Any]:
        assert len(files) == 2, f"the project's file and the harness's override: {files}"
        override = load_compose(Path(files[-1]).read_text())
        self.overrides.append(override)
        return override

    def image_of(self, override: dict[str, Any], service: str) -> str:
        return str(override["services"][service].get("image") or self.config["services"][service]["image"])

    def _build(self, files: list[str], services: list[str]) -> tuple[int, bytes, bytes]:
        override = self._override(files)
        for service in services or list(self.config["services"]):
            image = self.image_of(override, service)
            self.engine.images.present[image] = f"sha256:{len(self.engine.images.present)}"
        return 0, b"", b""

    def _up(self, project: str, files: list[str]) -> tuple[int, bytes, bytes]:
        override = self._override(files)
        if self.up_error:
            return 1, b"", self.up_error.encode()
        for service in PORTS:
            image = self.image_of(override, service)
            if image not in self.engine.images.present:
                return 1, b"", f"pull access denied for {image}, repository does not exist".encode()
        for service in PORTS:
            entry = override["services"][service]
            ports = entry["ports"]
            assert isinstance(ports, Tag)
            assert ports.tag == "!override"
            published = {int(spec.rpartition(":")[2]) for spec in ports.value}
            exited = service == "user-service" and self.exit_on_up is not None
            ident = self.engine.add_container(
                f"{project}-{service}-1",
                project=project,
                service=service,
                labels=entry["labels"],
                status="exited" if exited else "running",
                exit_code=self.exit_on_up or 0,
                ports={port: self.health_port for port in published},
                logs=b"RuntimeError: SECRET_KEY is not set\n" if exited else b"",
            )
            self.engine.container_attrs[ident]["Config"]["Image"] = self.image_of(override, service)
        return 0, b"", b""

    def subcommands(self) -> list[str]:
        return [command.subcommand for command in self.commands]

    def last(self, subcommand: str) -> Command:
        return [command for command in self.commands if command.subcommand == subcommand][-1]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "checkout"
    (project / "services/user-service").mkdir(parents=True)
    (project / "services/product-service").mkdir(parents=True)
    (project / "services/Dockerfile").write_text(DOCKERFILE)
    (project / "services/user-service/app.py").write_text("app = 1\n")
    (project / "services/product-service/app.py").write_text("app = 2\n")
    (project / "compose.yaml").write_text("services: {}\n")
    return project


@pytest.fixture
def cli(
    engine: FakeEngine, root: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> FakeComposeCLI:
    fake = FakeComposeCLI(engine, root, httpserver.port)
    processes = FakeProcesses(fake)
    httpserver.expect_request("/health").respond_with_data("ok")
    monkeypatch.setattr(subprocess, "Popen", processes)
    monkeypatch.setattr(os, "killpg", processes.killpg)
    monkeypatch.setattr(testcontainers_compose, "_default_compose_binary", lambda: "docker", raising=False)
    monkeypatch.setattr(backstop, "_teardowns", {})
    monkeypatch.setattr(backstop, "_started_early", set())
    return fake


@pytest.fixture
def local(engine: FakeEngine) -> Engine:
    """The fake engine, reached on 127.0.0.1 (a local socket)."""
    return Engine(engine, "127.0.0.1")


def containers_of(engine: FakeEngine, project: str) -> list[str]:
    return [
        ident
        for ident, attrs in engine.container_attrs.items()
        if attrs["Config"]["Labels"].get(PROJECT_LABEL) == project
    ]


def settings(root: Path, **kwargs: Any) -> StackSettings:
    options: dict[str, Any] = {
        "root": root,
        "services": SERVICES,
        "run_id": "CAFE1234",
        "worker": "gw3",
        "stack_timeout": 10.0,
        "secrets": (SECRET,),
        "teardown": TeardownPolicy.WAIT,  # removed in place, as in CI, unless a test asks for the reaper
        "exchanges": False,  # the fake compose runs the services only; the proxies are tested on the engine
        **kwargs,
    }
    return StackSettings(**options)


def planned_images(cli: FakeComposeCLI, engine: FakeEngine) -> dict[str, str]:
    return plan_images(cli.config, engine, own_project_name([cli.root / "compose.yaml"])).images


# --- a normal run ---------------------------------------------------------------------------------


def test_open_stack_yields_a_healthy_stack_and_tears_it_down(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine, httpserver: HTTPServer
) -> None:
    chosen = settings(root, environment={"LOG_LEVEL": "DEBUG"})

    with open_stack_with(chosen, local) as stack:
        assert stack.project == chosen.project
        assert stack.url("user-service") == f"http://127.0.0.1:{httpserver.port}"
        assert stack.project in backstop._teardowns, "a backstop is registered while the stack is up"
        assert cli.subcommands() == ["config", "build", "up"]
        assert len(containers_of(engine, chosen.project)) == 2

    assert stack.project not in backstop._teardowns
    assert containers_of(engine, chosen.project) == [], "torn down on exit"
    up_env = cli.last("up").env
    assert len(up_env[SECRET]) >= 32
    assert up_env["LOG_LEVEL"] == "DEBUG"
    assert cli.last("build").env[SECRET] == up_env[SECRET]
    assert cli.last("config").env["LOG_LEVEL"] == "DEBUG"
    assert SECRET not in cli.last("config").env, "the per-run secret stays out of the cached config"


def test_each_run_gets_a_fresh_secret(root: Path, cli: FakeComposeCLI, local: Engine) -> None:
    for worker in ("gw0", "gw1"):
        with open_stack_with(settings(root, worker=worker), local):
            pass

    first, second = (command.env[SECRET] for command in cli.commands if command.subcommand == "up")
    assert first != second


def test_up_runs_the_images_the_build_made_tagged_by_their_inputs(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    engine.images.present[BASE_IMAGE] = "sha256:base"
    expected = planned_images(cli, engine)

    with open_stack_with(settings(root), local) as stack:
        running = {
            service: engine.container_attrs[ident]["Config"]["Image"]
            for service in PORTS
            for ident in containers_of(engine, stack.project)
            if engine.container_attrs[ident]["Config"]["Labels"][SERVICE_LABEL] == service
        }

    assert running == expected
    assert set(expected) == set(PORTS)
    for service, image in expected.items():
        assert image.startswith(f"microstack/{service}:{TAG_PREFIX}"), "the project's repository, our tag"
    assert cli.last("build").args == ["--quiet", "user-service", "product-service"]


def test_the_override_labels_the_stack_with_this_process_as_owner(
    root: Path, cli: FakeComposeCLI, local: Engine
) -> None:
    with open_stack_with(settings(root), local) as stack:
        container = stack.container("user-service")
        assert container is not None
        labels = container.labels
        files = cli.last("up").files
        assert files[0] == "compose.yaml"
        assert files[-1].endswith("compose.harness.yaml")

    assert labels[HARNESS_LABEL] == "1"
    assert labels[OWNER_LABEL] == Owner.current().label()
    assert labels[KEEP_LABEL] == "false"
    assert labels[CONFIG_LABEL]
    owner = {key: labels[key] for key in (HARNESS_LABEL, OWNER_LABEL, KEEP_LABEL, CONFIG_LABEL)}
    assert cli.overrides[-1]["volumes"]["user-data"]["labels"] == owner, "volumes are owned too"
    assert not Path(files[-1]).exists(), "the override is a temporary file"


def test_ports_are_published_on_loopback_for_a_local_engine(
    root: Path, cli: FakeComposeCLI, local: Engine
) -> None:
    with open_stack_with(settings(root), local):
        pass

    services = cli.overrides[-1]["services"]
    assert services["user-service"]["ports"] == Tag("!override", ["127.0.0.1::5000"])
    assert services["product-service"]["ports"] == Tag("!override", ["127.0.0.1::5001"])


def test_a_remote_engine_publishes_on_all_interfaces(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine
) -> None:
    cli.up_error = "stop here: nothing to reach on a remote host in a unit test"

    with (
        pytest.raises(ComposeCommandError, match="stop here"),
        open_stack_with(settings(root), Engine(engine, "docker.example")),
    ):
        pass

    assert cli.overrides[-1]["services"]["user-service"]["ports"] == Tag("!override", ["0.0.0.0::5000"])


@pytest.mark.parametrize("parallel_start", [True, False])
def test_depends_on_is_dropped_only_with_parallel_start(
    root: Path, cli: FakeComposeCLI, local: Engine, parallel_start: bool
) -> None:
    with open_stack_with(settings(root, parallel_start=parallel_start), local):
        pass

    entry = cli.overrides[-1]["services"]["product-service"]
    assert ("depends_on" in entry) is parallel_start
    if parallel_start:
        assert entry["depends_on"] == Tag("!reset", {})


def test_leftovers_of_dead_runs_are_swept_before_anything_is_built_or_started(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    dead = Owner(Owner.current().host, os.getpid(), "not-my-start-time")
    leftover = engine.add_container(
        "old-run-api-1",
        project="microstack-it-old-main",
        labels=owner_labels(dead, keep=False, config_hash="x"),
    )

    with open_stack_with(settings(root), local):
        pass

    timeline = [(c.method, c.ident) for c in engine.calls if c.method in {"compose", "remove_container"}]
    swept = timeline.index(("remove_container", leftover))
    assert swept < timeline.index(("compose", "build"))
    assert swept < timeline.index(("compose", "up"))
    assert leftover not in engine.container_attrs


def test_a_compose_file_the_harness_cannot_run_is_refused_before_anything_starts(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    chosen = settings(root, services=(*SERVICES, ServiceSpec("billing", 8080)))

    with (
        pytest.raises(StackConfigError, match=r"'billing'.*not defined in compose\.yaml"),
        open_stack_with(chosen, local),
    ):
        pytest.fail("the body must not run")

    assert cli.subcommands() == ["config"]
    assert engine.container_attrs == {}
    assert backstop._teardowns == {}


def test_an_engine_the_plugin_cannot_run_on_is_refused_before_anything_starts(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    engine.version_answer["ApiVersion"] = "1.40"

    with (
        pytest.raises(EngineUnsupportedError, match=r"Docker .* \(API 1\.40\): .*needs API 1\.41"),
        open_stack_with(settings(root), local),
    ):
        pytest.fail("the body must not run")

    assert "up" not in cli.subcommands()
    assert "build" not in cli.subcommands()
    assert engine.container_attrs == {}


# --- images ---------------------------------------------------------------------------------------


def test_images_already_built_are_not_built_again(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    for image in planned_images(cli, engine).values():
        engine.images.present[image] = "sha256:built-before"

    with open_stack_with(settings(root), local):
        pass

    assert "build" not in cli.subcommands()


def test_only_the_services_whose_image_is_missing_are_built(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    engine.images.present[planned_images(cli, engine)["user-service"]] = "sha256:built-before"

    with open_stack_with(settings(root), local):
        pass

    assert cli.last("build").args == ["--quiet", "product-service"]


def test_a_service_without_image_is_named_by_the_compose_project_not_the_run_or_worker(
    root: Path, cli: FakeComposeCLI, local: Engine
) -> None:
    """Issue 18, 10: the name was <per-run project>-<service>, so each run and worker built its own."""
    for spec in cli.config["services"].values():
        del spec["image"]
    runs = [("CAFE1234", "gw0"), ("CAFE1234", "gw1"), ("BEEF5678", "gw0")]

    for run_id, worker in runs:
        with open_stack_with(settings(root, run_id=run_id, worker=worker), local):
            pass

    ups = [cli.image_of(override, "product-service") for override in cli.overrides if override]
    assert {image.partition(":")[0] for image in ups} == {"checkout-product-service"}
    assert len(set(ups)) == 1, ups
    assert cli.subcommands().count("build") == 1, "built once, whatever the run or the worker"


def test_a_change_to_the_build_context_is_built_on_the_next_run(
    root: Path, cli: FakeComposeCLI, local: Engine
) -> None:
    for worker in ("gw0", "gw1"):
        with open_stack_with(settings(root, worker=worker), local):
            pass
    assert cli.subcommands().count("build") == 1, "warm run: nothing to build"

    (root / "services/product-service/app.py").write_text("app = 3\n")
    with open_stack_with(settings(root, worker="gw2"), local):
        pass

    assert cli.subcommands().count("build") == 2
    assert cli.last("build").args == ["--quiet", "user-service", "product-service"], "one shared context"


def test_prepare_images_builds_what_is_missing_without_starting_anything(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    plan = prepare_images_with(settings(root), local)

    assert cli.subcommands() == ["config", "build"]
    assert set(plan.images) == set(PORTS)
    assert all(image in engine.images.present for image in plan.images.values())
    assert engine.container_attrs == {}
    assert prepare_images_with(settings(root), local) == plan
    assert cli.subcommands() == ["config", "build"], "second time: cached config, nothing to build"


# --- failures and interrupts ---------------------------------------------------------------------


def test_a_failed_start_raises_with_diagnostics_and_still_tears_down(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    cli.exit_on_up = 2
    chosen = settings(root)

    with pytest.raises(StackStartError) as caught, open_stack_with(chosen, local):
        pytest.fail("the body must not run when the stack did not start")

    assert "exit code 2" in str(caught.value)
    assert "SECRET_KEY is not set" in str(caught.value)
    assert containers_of(engine, chosen.project) == []
    assert chosen.project not in backstop._teardowns


def test_an_error_in_the_body_still_tears_down(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    chosen = settings(root)
    seen_inside: list[str] = []

    def interrupted_run() -> None:
        with open_stack_with(chosen, local):
            seen_inside.extend(containers_of(engine, chosen.project))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_run()

    assert len(seen_inside) == 2
    assert containers_of(engine, chosen.project) == []
    assert chosen.project not in backstop._teardowns


def test_after_ctrl_c_the_teardown_started_by_the_signal_finishes_at_exit(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    chosen = settings(root)

    def interrupted_run() -> None:
        with open_stack_with(chosen, local):
            for thread in backstop.start_all_in_background():  # what the SIGINT handler does
                thread.join(timeout=10)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_run()

    assert containers_of(engine, chosen.project) == []
    assert chosen.project in backstop._teardowns, "left to the atexit backstop, which waits for it"
    backstop.run_all()
    assert chosen.project not in backstop._teardowns


# --- handing the removal to the reaper -------------------------------------------------------------


@pytest.fixture
def reaped(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The projects handed to the detached reaper (which is not started)."""
    handed: list[list[str]] = []

    def spawn(projects: list[str], owner: str, *, sweep: bool = True) -> None:
        assert owner == Owner.current().label(), "the reaper removes only what this process labelled"
        handed.append(list(projects))

    monkeypatch.setattr(reaper, "spawn", spawn)
    return handed


def test_without_waiting_a_finished_stack_is_handed_to_the_reaper(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine, reaped: list[list[str]]
) -> None:
    chosen = settings(root, teardown=TeardownPolicy.REAPER)

    with open_stack_with(chosen, local):
        pass

    assert reaped == [[chosen.project]]
    assert len(containers_of(engine, chosen.project)) == 2, "removed by the reaper, not by this process"
    assert chosen.project not in backstop._teardowns, "the atexit backstop must not remove it again"


def test_waiting_for_teardown_removes_the_stack_before_returning(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine, reaped: list[list[str]]
) -> None:
    chosen = settings(root, teardown=TeardownPolicy.WAIT)

    with open_stack_with(chosen, local):
        pass

    assert reaped == []
    assert containers_of(engine, chosen.project) == []


def test_a_stack_whose_test_run_failed_is_removed_at_once_even_without_waiting(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine, reaped: list[list[str]]
) -> None:
    chosen = settings(root, teardown=TeardownPolicy.REAPER)

    with pytest.raises(RuntimeError, match="body failed"), open_stack_with(chosen, local):
        raise RuntimeError("body failed")

    assert reaped == []
    assert containers_of(engine, chosen.project) == []


def test_when_the_reaper_cannot_start_the_stack_is_removed_here(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_reaper(projects: list[str], owner: str, *, sweep: bool = True) -> None:
        raise OSError("fork: Resource temporarily unavailable")

    monkeypatch.setattr(reaper, "spawn", no_reaper)
    chosen = settings(root, teardown=TeardownPolicy.REAPER)

    with open_stack_with(chosen, local):
        pass

    assert containers_of(engine, chosen.project) == []
    assert chosen.project not in backstop._teardowns


# --- kept and reused stacks -----------------------------------------------------------------------


def test_a_kept_stack_is_left_up_and_reused_as_it_was_started(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    with open_stack_with(settings(root, teardown=TeardownPolicy.KEEP), local) as kept:
        assert kept.project not in backstop._teardowns, "a kept stack has no backstop"
    running = containers_of(engine, kept.project)
    assert len(running) == 2, "left running"
    container = kept.container("user-service")
    assert container is not None
    assert container.labels[KEEP_LABEL] == "true"
    kept_up = cli.last("up")

    with open_stack_with(
        settings(root, teardown=TeardownPolicy.REUSE, run_id="other", worker="main"), local
    ) as reused:
        assert reused.project == kept.project
        assert reused.url("product-service") == kept.url("product-service")
        assert reused.compose.environment == {SECRET: kept_up.env[SECRET]}, "the kept stack's secret"
        files = reused.compose.compose_file_name
        assert isinstance(files, list)
        assert Path(files[-1]).read_text() == Path(kept_up.files[-1]).read_text()

    assert cli.subcommands().count("up") == 1, "attached, not started again"
    assert containers_of(engine, kept.project) == running, "and not torn down either"


def test_reuse_starts_and_keeps_a_stack_when_none_matches(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    with open_stack_with(settings(root, teardown=TeardownPolicy.REUSE), local) as stack:
        pass

    assert cli.subcommands().count("up") == 1
    assert len(containers_of(engine, stack.project)) == 2, "kept"
    container = stack.container("user-service")
    assert container is not None
    assert container.labels[KEEP_LABEL] == "true"


def test_a_kept_stack_without_this_users_record_is_not_reused(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine, private_state: Path
) -> None:
    with open_stack_with(settings(root, teardown=TeardownPolicy.KEEP), local) as kept:
        pass
    shutil.rmtree(private_state / "kept")  # started by someone else: no override, no secrets

    with open_stack_with(
        settings(root, teardown=TeardownPolicy.REUSE, run_id="other", worker="main"), local
    ) as fresh:
        assert fresh.project != kept.project

    assert cli.subcommands().count("up") == 2


@pytest.mark.parametrize(
    ("first", "second", "same"), [("auto", False, True), (True, False, False), (True, "auto", False)]
)
def test_a_kept_stack_is_matched_on_whether_it_has_recording_proxies(
    root: Path, first: bool | Literal["auto"], second: bool | Literal["auto"], same: bool
) -> None:
    plan = ImagePlan({"user-service": "img:1"})

    hashes = {_config_hash(settings(root, exchanges=given), plan) for given in (first, second)}

    assert (len(hashes) == 1) is same


def test_a_kept_stack_that_fails_to_start_is_torn_down(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, local: Engine
) -> None:
    cli.exit_on_up = 1
    chosen = settings(root, teardown=TeardownPolicy.KEEP)

    with pytest.raises(StackStartError), open_stack_with(chosen, local):
        pass

    assert containers_of(engine, chosen.project) == []


# --- configuration ---------------------------------------------------------------------------------


def test_the_compose_config_is_read_once_while_nothing_changes(
    root: Path, cli: FakeComposeCLI, local: Engine
) -> None:
    for worker in ("gw0", "gw1"):
        with open_stack_with(settings(root, worker=worker), local):
            pass
    assert cli.subcommands().count("config") == 1

    (root / "compose.yaml").write_text("services: {}\n# changed\n")
    with open_stack_with(settings(root, worker="gw2"), local):
        pass
    assert cli.subcommands().count("config") == 2


@dataclass
class FakeDockerClient:
    """testcontainers' DockerClient: the engine as `.client` and the engine's host."""

    client: FakeEngine

    def host(self) -> str:
        return "localhost"


def test_without_an_engine_the_one_the_environment_names_is_used(
    root: Path, cli: FakeComposeCLI, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pytest_microstack._engine.engine.DockerClient", lambda: FakeDockerClient(engine))

    with open_stack_with(settings(root)) as stack:
        assert stack.host == "127.0.0.1"
        assert stack.engine is cast(Any, engine)


def test_declared_services_are_used_as_declared(root: Path) -> None:
    config: dict[str, Any] = {"services": {"user-service": {}, "product-service": {}, "db": {}}}
    assert declared_services(settings(root), config) == SERVICES


def test_without_a_declaration_every_service_is_waited_for_by_its_healthcheck_or_running(root: Path) -> None:
    config = {
        "services": {
            "api": {"healthcheck": {"test": ["CMD", "true"], "interval": "2s"}},
            "worker": {},
            "cron": {"healthcheck": {"disable": True}},
        }
    }

    assert declared_services(settings(root, services=()), config) == (
        ServiceSpec("api", check="docker"),
        ServiceSpec("worker", check="running"),
        ServiceSpec("cron", check="running"),
    )


def test_per_run_environment_adds_a_fresh_value_for_each_secret_not_set(root: Path) -> None:
    chosen = settings(root, environment={"LOG_LEVEL": "DEBUG", "FIXED": "given"}, secrets=(SECRET, "FIXED"))

    first, second = per_run_environment(chosen), per_run_environment(chosen)

    assert first["LOG_LEVEL"] == "DEBUG"
    assert first["FIXED"] == "given", "a value in the environment wins"
    assert len(first[SECRET]) >= 32
    assert first[SECRET] != second[SECRET]
    assert chosen.environment == {"LOG_LEVEL": "DEBUG", "FIXED": "given"}, "the settings are left alone"
