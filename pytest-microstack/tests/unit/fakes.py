"""A fake Docker engine for the harness's unit tests.

The objects handed to the harness are docker-py's own models (Container,
Network, Volume, Image), bound to a fake client: every model method the harness
calls goes through `FakeAPI`, which records the call and changes the fake
engine's state the way the daemon would. `list()` and `get()` return snapshots,
as the real API does, so code that forgets to `reload()` sees stale state.

`FakeEngine("podman")` answers as Podman 4 does where it differs from Docker:
a container being removed is 500 "no such container" on inspect (Docker: 404),
and a container without a healthcheck has `State.Health = {"Status": ""}`
(Docker leaves `Health` out).
"""

from __future__ import annotations

import copy
import itertools
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import docker.errors
import requests
from docker.models.containers import Container
from docker.models.images import Image
from docker.models.networks import Network
from docker.models.volumes import Volume

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


@dataclass
class Call:
    """One call the harness made through a model: API method, object id and keyword arguments."""

    method: str
    ident: str
    kwargs: dict[str, Any] = field(default_factory=dict)


# The filters `GET /images/json` accepts; any other is refused with 400 "invalid filter".
IMAGE_FILTERS = {"before", "dangling", "label", "reference", "since", "until"}


def _label_match(labels: dict[str, str], filters: dict[str, Any] | None) -> bool:
    wanted = (filters or {}).get("label", [])
    for item in [wanted] if isinstance(wanted, str) else wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


_ENGINE_NUMBERS = itertools.count(1)

DOCKER_VERSION: dict[str, Any] = {
    "Components": [{"Name": "Engine", "Version": "20.10.24+dfsg1"}],
    "Version": "20.10.24+dfsg1",
    "ApiVersion": "1.41",
}
PODMAN_VERSION: dict[str, Any] = {
    "Components": [
        {"Name": "Podman Engine", "Version": "4.3.1", "Details": {"APIVersion": "4.3.1"}},
        {"Name": "Conmon", "Version": "conmon version 2.1.6"},
    ],
    "Version": "4.3.1",
    "ApiVersion": "1.41",
}


class FakeLogStream:
    """What docker-py's `logs(stream=True)` and `events()` return: the items, and a recorded `close()`."""

    def __init__(self, frames: Sequence[Any]) -> None:
        self.frames = list(frames)
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        return iter(self.frames)

    def close(self) -> None:
        self.closed = True


class FakeAPI:
    """What docker-py's models call as `client.api`; records and applies each call."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        # Each fake engine is an engine of its own, at an address of its own.
        self.base_url = f"http+fake://engine-{next(_ENGINE_NUMBERS)}"
        self._exec_ids = itertools.count(1)
        self._execs: dict[str, tuple[str, tuple[str, ...]]] = {}

    def _record(self, method: str, ident: str, **kwargs: Any) -> None:
        self.engine.calls.append(Call(method, ident, kwargs))
        error = self.engine.fail_on.get((method, ident))
        if error is not None:
            raise error

    def _state(self, ident: str) -> dict[str, Any]:
        try:
            state: dict[str, Any] = self.engine.container_attrs[ident]["State"]
        except KeyError:
            raise docker.errors.NotFound(f"No such container: {ident}") from None
        return state

    # Removal
    def remove_container(self, ident: str, **kwargs: Any) -> None:
        self._record("remove_container", ident, **kwargs)
        if self.engine.container_attrs.pop(ident, None) is None:
            raise docker.errors.NotFound(f"No such container: {ident}")

    def remove_network(self, ident: str) -> None:
        self._record("remove_network", ident)
        if self.engine.network_attrs.pop(ident, None) is None:
            raise docker.errors.NotFound(f"network {ident} not found")

    def remove_volume(self, ident: str, force: bool = False) -> None:
        self._record("remove_volume", ident, force=force)
        if self.engine.volume_attrs.pop(ident, None) is None:
            raise docker.errors.NotFound(f"get {ident}: no such volume")

    # Life cycle
    def start(self, ident: str, **kwargs: Any) -> None:
        self._record("start", ident, **kwargs)
        self._state(ident).update(Status="running", ExitCode=0)

    def stop(self, ident: str, **kwargs: Any) -> None:
        self._record("stop", ident, **kwargs)
        self._state(ident).update(Status="exited", ExitCode=0)

    def kill(self, ident: str, signal: str | int | None = None) -> None:
        self._record("kill", ident, signal=signal)
        self._state(ident).update(Status="exited", ExitCode=137)

    def wait(self, ident: str, **kwargs: Any) -> dict[str, Any]:
        self._record("wait", ident, **kwargs)
        return {"StatusCode": self._state(ident)["ExitCode"]}

    def pause(self, ident: str) -> None:
        self._record("pause", ident)
        self._state(ident)["Status"] = "paused"

    def unpause(self, ident: str) -> None:
        self._record("unpause", ident)
        state = self._state(ident)
        if state["Status"] != "paused":
            raise docker.errors.APIError(f"Container {ident} is not paused")
        state["Status"] = "running"

    def logs(self, ident: str, **kwargs: Any) -> bytes | FakeLogStream:
        self._record("logs", ident, **kwargs)
        output = self.engine.container_logs.get(ident, b"")
        if kwargs.get("stream"):
            frames = self.engine.container_log_frames.get(ident) or output.splitlines(keepends=True)
            stream = FakeLogStream(frames)
            self.engine.log_streams.append(stream)
            return stream
        tail = kwargs.get("tail")
        if isinstance(tail, int):
            output = b"".join(output.splitlines(keepends=True)[-tail:])
        return output

    # Networks
    def connect_container_to_network(self, container: str, net_id: str, **kwargs: Any) -> None:
        self._record("connect", net_id, container=container, **kwargs)

    def disconnect_container_from_network(self, container: str, net_id: str, **kwargs: Any) -> None:
        self._record("disconnect", net_id, container=container, **kwargs)

    # Exec
    def exec_create(self, ident: str, cmd: list[str], **kwargs: Any) -> dict[str, str]:
        self._record("exec_create", ident, cmd=list(cmd), **kwargs)
        exec_id = f"exec-{next(self._exec_ids)}"
        self._execs[exec_id] = (ident, tuple(cmd))
        return {"Id": exec_id}

    def exec_start(self, exec_id: str, **kwargs: Any) -> bytes:
        return self.engine.exec_results.get(self._execs[exec_id][1], (0, b""))[1]

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return {"ExitCode": self.engine.exec_results.get(self._execs[exec_id][1], (0, b""))[0]}


class FakeContainers:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def _model(self, attrs: dict[str, Any]) -> Container:
        return Container(
            attrs=copy.deepcopy(attrs), client=cast(Any, self.engine), collection=cast(Any, self)
        )

    def list(
        self,
        all: bool = False,
        filters: dict[str, Any] | None = None,
        sparse: bool = False,
        ignore_removed: bool = False,
        **kwargs: Any,
    ) -> list[Container]:
        """Like docker-py: list, then inspect each one (unless sparse), which fails for one just removed."""
        options = {
            "all": all,
            "filters": filters,
            "sparse": sparse,
            "ignore_removed": ignore_removed,
            **kwargs,
        }
        self.engine.list_calls.append(("containers", options))
        found = []
        for ident, attrs in list(self.engine.container_attrs.items()):
            running = attrs["State"]["Status"] == "running"
            status = (filters or {}).get("status")
            if not (all or running) or not _label_match(attrs["Config"]["Labels"], filters):
                continue
            if status is not None and attrs["State"]["Status"] != status:
                continue
            if ident in self.engine.removed_while_listing and not sparse:
                del self.engine.container_attrs[ident]
                if ignore_removed and self.engine.kind == "docker":
                    continue  # docker-py skips a 404 only: Podman's 500 is raised
                raise self.engine.gone_error(ident)
            found.append(self._model(attrs))
        return found

    def get(self, ident: str) -> Container:
        if ident in self.engine.removed_while_listing:
            # Listed a moment ago, removed since: the inspect that follows the list fails.
            self.engine.container_attrs.pop(ident, None)
            raise self.engine.gone_error(ident)
        for attrs in self.engine.container_attrs.values():
            if ident in (attrs["Id"], attrs["Name"].lstrip("/")):
                model = self._model(attrs)  # inspected now, returned to the caller later
                if self.engine.on_inspect is not None:
                    self.engine.on_inspect(ident)
                return model
        raise docker.errors.NotFound(f"No such container: {ident}")


class FakeNetworks:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def _model(self, attrs: dict[str, Any]) -> Network:
        return Network(attrs=copy.deepcopy(attrs), client=cast(Any, self.engine), collection=cast(Any, self))

    def list(self, filters: dict[str, Any] | None = None, **kwargs: Any) -> list[Network]:
        self.engine.list_calls.append(("networks", {"filters": filters, **kwargs}))
        values = self.engine.network_attrs.values()
        return [self._model(a) for a in values if _label_match(a["Labels"] or {}, filters)]

    def get(self, ident: str) -> Network:
        for attrs in self.engine.network_attrs.values():
            if ident in (attrs["Id"], attrs["Name"]):
                return self._model(attrs)
        raise docker.errors.NotFound(f"network {ident} not found")


class FakeVolumes:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def list(self, filters: dict[str, Any] | None = None, **kwargs: Any) -> list[Volume]:
        self.engine.list_calls.append(("volumes", {"filters": filters, **kwargs}))
        return [
            Volume(attrs=copy.deepcopy(a), client=cast(Any, self.engine), collection=cast(Any, self))
            for a in self.engine.volume_attrs.values()
            if _label_match(a["Labels"] or {}, filters)
        ]


def _docker_normalized(name: str) -> str:
    """How Docker reads a reference: docker.io/library/ in front of `python`, `:latest` when untagged."""
    first = name.split("/", 1)[0]
    qualified = "/" in name and ("." in first or ":" in first or first == "localhost")
    if not qualified:
        name = f"docker.io/{name}" if "/" in name else f"docker.io/library/{name}"
    return name if "@" in name or ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class FakeImages:
    """Local images by the name they are stored under (`present`), looked up as each engine does.

    Docker: by the reference normalized (python:3.11 is docker.io/library/python:3.11).
    Podman: a qualified name exactly; a short name as localhost/<name>, then
    docker.io/library/<name>, then, as Podman 4 does, any image whose name ends
    in /<name> (python:3.11 finds localhost/itest-local/python:3.11).
    """

    def __init__(self, kind: str = "docker") -> None:
        self.kind = kind
        self.present: dict[str, str] = {}
        self.lookups: list[str] = []
        self.errors: dict[str, BaseException] = {}  # names the engine answers with an error
        # What `list` gives: "summary" (`GET /images/json`: labels at the top level, creation
        # in seconds) or "inspect" (docker-py's ImageCollection.list inspects every image it
        # lists: labels under Config, creation as RFC 3339 text).
        self.listed_as = "summary"

    def _find(self, name: str) -> str | None:
        if self.kind == "docker":
            wanted = _docker_normalized(name)
            return next(
                (i for stored, i in self.present.items() if _docker_normalized(stored) == wanted), None
            )
        if name in self.present:
            return self.present[name]
        first = name.split("/", 1)[0]
        if "/" in name and ("." in first or ":" in first or first == "localhost"):
            return None  # qualified: that name or nothing
        for candidate in (f"localhost/{name}", _docker_normalized(name)):
            if candidate in self.present:
                return self.present[candidate]
        return next((i for stored, i in self.present.items() if stored.endswith(f"/{name}")), None)

    def get(self, name: str) -> Image:
        self.lookups.append(name)
        if name in self.errors:
            raise self.errors[name]
        found = self._find(name)
        if found is None:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return Image(attrs={"Id": found})

    # Listing and removal, as `docker image ls` / `docker rmi <tag>` (used by the prune).
    created: dict[str, int | str]  # image id -> created: RFC 3339 text as docker-py gives it, or seconds
    in_use: Callable[[str], bool]  # whether a container (any state) uses that image id

    labels: dict[str, dict[str, str]]  # image id -> the labels it was built with

    def list(self, filters: dict[str, Any] | None = None, **kwargs: Any) -> list[Image]:
        """Like `GET /images/json`, filtered by label; each image as `listed_as` says.

        As the engine does, a filter it doesn't know is refused (400), not ignored.
        """
        unknown = sorted(set(filters or {}) - IMAGE_FILTERS)
        if unknown:
            invalid = requests.Response()
            invalid.status_code = 400
            raise docker.errors.APIError(f"invalid filter '{unknown[0]}'", response=invalid)
        by_id: dict[str, list[str]] = {}
        for name, ident in self.present.items():
            by_id.setdefault(ident, []).append(name)
        return [
            Image(attrs=self._attrs(ident, tags))
            for ident, tags in by_id.items()
            if _label_match(self.labels.get(ident, {}), filters)
        ]

    def _attrs(self, ident: str, tags: Sequence[str]) -> dict[str, Any]:
        labels = self.labels.get(ident) or None
        created = self.created.get(ident, 0)
        if self.listed_as == "inspect":
            return {"Id": ident, "RepoTags": tags, "Created": created, "Config": {"Labels": labels}}
        return {"Id": ident, "RepoTags": tags, "Created": created, "Labels": labels}

    def remove(self, image: str, force: bool = False, noprune: bool = False) -> None:
        """Untag; the engine refuses (409) to remove the last tag of an image a container uses."""
        if image not in self.present:
            raise docker.errors.ImageNotFound(f"No such image: {image}")
        ident = self.present[image]
        last_tag = list(self.present.values()).count(ident) == 1
        if last_tag and not force and self.in_use(ident):
            conflict = requests.Response()
            conflict.status_code = 409
            raise docker.errors.APIError(
                f"conflict: unable to remove repository reference {image!r}: container is using its image",
                response=conflict,
            )
        del self.present[image]


class FakeEngine:
    """Stands in for `docker.DockerClient`: containers, networks, volumes, images.

    `kind` is the engine it answers like: "docker" or "podman" (see the module's docstring).
    """

    def __init__(self, kind: str = "docker") -> None:
        if kind not in {"docker", "podman"}:
            raise ValueError(f"unknown engine kind {kind!r}: docker or podman")
        self.kind = kind
        self.version_answer: dict[str, Any] = copy.deepcopy(
            DOCKER_VERSION if kind == "docker" else PODMAN_VERSION
        )
        self.version_calls = 0
        self.api = FakeAPI(self)
        self.containers = FakeContainers(self)
        self.networks = FakeNetworks(self)
        self.volumes = FakeVolumes(self)
        self.images = FakeImages(kind)
        self.images.created = {}
        self.images.labels = {}
        self.images.in_use = lambda ident: any(a.get("Image") == ident for a in self.container_attrs.values())
        self.container_attrs: dict[str, dict[str, Any]] = {}
        self.network_attrs: dict[str, dict[str, Any]] = {}
        self.volume_attrs: dict[str, dict[str, Any]] = {}
        self.container_logs: dict[str, bytes] = {}
        # A log as the engine streams it, frame by frame (Podman: a line's parts apart).
        self.container_log_frames: dict[str, list[bytes]] = {}
        self.log_streams: list[FakeLogStream] = []
        self.engine_events: list[dict[str, Any]] = []
        self.exec_results: dict[tuple[str, ...], tuple[int, bytes]] = {}
        self.calls: list[Call] = []
        self.list_calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_on: dict[tuple[str, str], BaseException] = {}
        # Containers that another process removes between a list and the inspect that follows it.
        self.removed_while_listing: set[str] = set()
        # Called on every `containers.get` (which `Container.reload()` uses), in the caller's thread.
        self.on_inspect: Callable[[str], None] | None = None
        self._ids = itertools.count(1)

    def add_container(
        self,
        name: str,
        *,
        project: str | None = None,
        service: str | None = None,
        labels: dict[str, str] | None = None,
        status: str = "running",
        exit_code: int = 0,
        health: str | None = None,
        ports: dict[int, int] | None = None,
        env: list[str] | None = None,
        networks: dict[str, list[str]] | None = None,
        logs: bytes = b"",
        healthcheck: dict[str, Any] | None = None,
        health_log: list[dict[str, Any]] | None = None,
        image: str = "",
    ) -> str:
        ident = f"c{next(self._ids):063d}"
        all_labels = dict(labels or {})
        if project is not None:
            all_labels[PROJECT_LABEL] = project
        if service is not None:
            all_labels[SERVICE_LABEL] = service
        state: dict[str, Any] = {"Status": status, "ExitCode": exit_code}
        if health is not None:
            state["Health"] = {"Status": health, "Log": health_log}
        elif self.kind == "podman":
            state["Health"] = {"Status": "", "FailingStreak": 0, "Log": None}
        config: dict[str, Any] = {"Labels": all_labels, "Env": env}
        if healthcheck is not None:
            config["Healthcheck"] = healthcheck
        self.container_attrs[ident] = {
            "Id": ident,
            "Name": f"/{name}",
            "Image": image,  # the image id
            "Config": config,
            "State": state,
            "NetworkSettings": {
                "Ports": {
                    f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]
                    for port, host_port in (ports or {}).items()
                },
                "Networks": {net: {"Aliases": aliases} for net, aliases in (networks or {}).items()},
            },
        }
        self.container_logs[ident] = logs
        return ident

    def events(self, **kwargs: Any) -> FakeLogStream:
        """`GET /events`: `engine_events` as they are (the test sets them), the call recorded."""
        self.calls.append(Call("events", "", kwargs))
        stream = FakeLogStream(self.engine_events)
        self.log_streams.append(stream)
        return stream

    def version(self) -> dict[str, Any]:
        """`GET /version`, as docker-py's `DockerClient.version()` returns it."""
        self.version_calls += 1
        return copy.deepcopy(self.version_answer)

    def gone_error(self, ident: str) -> docker.errors.APIError:
        """What inspecting a container that is being removed answers on this kind of engine."""
        if self.kind == "docker":
            return docker.errors.NotFound(f"No such container: {ident}")
        response = requests.Response()
        response.status_code = 500
        explanation = f"container {ident} does not exist in database: no such container"
        return docker.errors.APIError(f"500 Server Error: {explanation}", response, explanation)

    def add_network(
        self, name: str, *, project: str | None = None, labels: dict[str, str] | None = None
    ) -> str:
        ident = f"n{next(self._ids):063d}"
        all_labels = dict(labels or {})
        if project is not None:
            all_labels[PROJECT_LABEL] = project
        self.network_attrs[ident] = {"Id": ident, "Name": name, "Labels": all_labels}
        return ident

    def add_volume(
        self, name: str, *, project: str | None = None, labels: dict[str, str] | None = None
    ) -> str:
        all_labels = dict(labels or {})
        if project is not None:
            all_labels[PROJECT_LABEL] = project
        self.volume_attrs[name] = {"Name": name, "Driver": "local", "Labels": all_labels}
        return name

    def state(self, ident: str) -> dict[str, Any]:
        """The live state of a container, to change it as the daemon would."""
        state: dict[str, Any] = self.container_attrs[ident]["State"]
        return state

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]


@dataclass
class FakeCompose:
    """Stands in for ProjectCompose where only start/stop matter."""

    project_name: str = "microstack-it-unit-main"
    on_start: Callable[[], None] | None = None
    events: list[str] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    built: list[list[str]] = field(default_factory=list)  # the services of each build

    def start(self) -> None:
        self.events.append("start")
        if self.on_start is not None:
            self.on_start()

    def stop(self) -> None:
        self.events.append("stop")

    def build_images(self, services: list[str] | None = None) -> None:
        self.events.append("build")
        self.built.append(list(services or []))

    killed_mid_command: bool = False  # set by a test: cancel() cut a running `up` short

    def cancel(self) -> None:
        self.events.append("cancel")
        self.cancelled.set()


@dataclass
class PopenCall:
    """One process the harness started: its command line and Popen keyword arguments."""

    args: list[str]
    kwargs: dict[str, Any]
    communicate_timeouts: list[float | None] = field(default_factory=list)
    killed: threading.Event = field(default_factory=threading.Event)


Respond = Callable[[list[str], dict[str, Any]], tuple[int, bytes, bytes]]


class FakeProcesses:
    """Stands in for `subprocess.Popen`, which `subprocess.run` uses too: no real process starts.

    Each command is answered by `respond(args, kwargs) -> (returncode, stdout, stderr)`.
    With `hang` set, a command runs until it is killed or its communicate() times out
    (10 s at most).
    """

    def __init__(self, respond: Respond | None = None) -> None:
        self.respond: Respond = respond or (lambda args, kwargs: (0, b"", b""))
        self.hang = False
        self.calls: list[PopenCall] = []
        self._by_pid: dict[int, FakePopen] = {}
        self._lock = threading.Lock()

    def __call__(self, args: list[str], **kwargs: Any) -> FakePopen:
        call = PopenCall(list(args), kwargs)
        process = FakePopen(self, call)
        with self._lock:
            self.calls.append(call)
            self._by_pid[process.pid] = process
        return process

    def killpg(self, pgid: int, signum: int) -> None:
        """Stands in for `os.killpg`: each fake process leads its own session."""
        with self._lock:
            process = self._by_pid.get(pgid)
        if process is None:
            raise ProcessLookupError(pgid)
        process.kill()

    @property
    def commands(self) -> list[list[str]]:
        return [call.args for call in self.calls]


class FakePopen:
    _pids = itertools.count(4_000_000)

    def __init__(self, processes: FakeProcesses, call: PopenCall) -> None:
        self._processes = processes
        self._call = call
        self.args = call.args
        self.pid = next(self._pids)
        self.returncode: int | None = None

    def __enter__(self) -> FakePopen:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def communicate(self, input: bytes | None = None, timeout: float | None = None) -> tuple[bytes, bytes]:
        self._call.communicate_timeouts.append(timeout)
        if self._processes.hang and not self._call.killed.is_set():
            # A hung command, but never one that outlives a test for long.
            limit = min(timeout if timeout is not None else 10.0, 10.0)
            if not self._call.killed.wait(limit):
                raise subprocess.TimeoutExpired(self.args, limit)
        if self._call.killed.is_set():
            self.returncode = -9
            return b"", b""
        self.returncode, stdout, stderr = self._processes.respond(self.args, self._call.kwargs)
        return stdout, stderr

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        return self.returncode

    def kill(self) -> None:
        self._call.killed.set()

    terminate = kill
