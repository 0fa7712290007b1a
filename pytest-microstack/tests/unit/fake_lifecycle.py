"""open_stack on a fake engine and a fake `docker compose`, for tests of its teardown and reuse paths.

The steps before `up` that have tests of their own (sweep, config, image plan
and build) are replaced by their results; everything from the override on is
the real code: the kept-stack record, the lease, ProjectCompose (its process
replaced by `FakeProcesses`), Stack and the backstop.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_microstack._core import lifecycle
from pytest_microstack._engine.engine import Engine
from pytest_microstack._engine.images import ImagePlan
from pytest_microstack._ownership import PROJECT_LABEL
from pytest_microstack._settings import ServiceSpec, StackSettings, TeardownPolicy
from testcontainers.compose import compose as testcontainers_compose

from unit.fakes import FakeEngine, FakeProcesses

SERVICES = (ServiceSpec("api", check="running"), ServiceSpec("db", check="running"))
SECRET = "API_SECRET"
CONFIG: dict[str, Any] = {
    "name": "demo",
    "services": {"api": {"image": "demo/api:1"}, "db": {"image": "demo/db:1"}},
    "networks": {"default": {"name": "demo_default"}},
}


class _TagLoader(yaml.SafeLoader):
    """Reads compose's `!override`/`!reset` tags as their plain values."""


_TagLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: (
        loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_scalar(node)
    ),
)


@dataclass
class Command:
    subcommand: str
    files: list[str]
    project: str
    env: dict[str, str]


@dataclass
class FakeCompose:
    """`docker compose` on the fake engine: `up` creates what is missing from the override's labels."""

    engine: FakeEngine
    commands: list[Command] = field(default_factory=list)

    def __call__(self, args: list[str], kwargs: dict[str, Any]) -> tuple[int, bytes, bytes]:
        words = iter(args[2:])
        files: list[str] = []
        project = subcommand = ""
        for word in words:
            if word == "-f":
                files.append(next(words))
            elif word == "--project-name":
                project = next(words)
            else:
                subcommand = word
                break
        env: dict[str, str] = kwargs["env"]
        self.commands.append(Command(subcommand, files, project, env))
        if subcommand == "up":
            self._up(project, files[-1], env)
        elif subcommand == "down":
            for ident in self.containers_of(project):
                del self.engine.container_attrs[ident]
        return 0, b"", b""

    def _up(self, project: str, override_path: str, env: dict[str, str]) -> None:
        override = yaml.load(Path(override_path).read_text(), Loader=_TagLoader)  # a SafeLoader subclass
        for service in CONFIG["services"]:
            name = f"{project}-{service}-1"
            existing = [
                i for i in self.containers_of(project) if self.engine.container_attrs[i]["Name"] == f"/{name}"
            ]
            if existing:
                self.engine.state(existing[0]).update(Status="running", ExitCode=0)
                continue
            self.engine.add_container(
                name,
                project=project,
                service=service,
                labels=override["services"][service]["labels"],
                env=[f"{SECRET}={env.get(SECRET, '')}"],
            )
        if not any(a["Name"] == f"{project}_default" for a in self.engine.network_attrs.values()):
            self.engine.add_network(
                f"{project}_default", project=project, labels=override["networks"]["default"]["labels"]
            )

    def containers_of(self, project: str) -> list[str]:
        return [
            ident
            for ident, attrs in self.engine.container_attrs.items()
            if attrs["Config"]["Labels"].get(PROJECT_LABEL) == project
        ]

    def ran(self, subcommand: str) -> list[Command]:
        return [command for command in self.commands if command.subcommand == subcommand]


@pytest.fixture
def fake_compose(engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCompose:
    """Install the fakes; the state folder is a private folder of this test's own."""
    cli = FakeCompose(engine)
    processes = FakeProcesses(cli)
    monkeypatch.setattr(subprocess, "Popen", processes)
    monkeypatch.setattr(os, "killpg", processes.killpg)
    monkeypatch.setattr(testcontainers_compose, "_default_compose_binary", lambda: "docker", raising=False)
    monkeypatch.setattr(lifecycle, "sweep_abandoned", lambda client: [])
    monkeypatch.setattr(lifecycle, "read_config", lambda settings, state: CONFIG)
    monkeypatch.setattr(lifecycle, "plan_images", lambda config, client, name=None: ImagePlan({}))
    monkeypatch.setattr(lifecycle, "ensure_images", lambda *args: [])
    monkeypatch.setenv("MICROSTACK_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    return cli


def settings(root: Path, run_id: str, **options: Any) -> StackSettings:
    """Settings that remove the stack in place (as in CI) unless a test asks for the reaper."""
    options.setdefault("teardown", TeardownPolicy.WAIT)
    options.setdefault("exchanges", False)  # the fake compose runs the services only, not their proxies
    return StackSettings(
        root=root, services=SERVICES, run_id=run_id, stack_timeout=5, secrets=(SECRET,), **options
    )


def fake_engine(engine: FakeEngine) -> Engine:
    return Engine(engine, "127.0.0.1")
