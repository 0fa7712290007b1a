"""How the recording proxies enter the stack with the compose file and the services unchanged.

Docker's embedded DNS answers a name per network: an alias given on one network
resolves only for containers attached to that network. So, for each proxied
service S (a declared `http` or `tcp` service):

- the real S leaves its networks for a private one, `S--net`, where it also
  answers as `S--real`; its published ports are reset;
- a sidecar `S--exchanges` (the proxy) joins S's original networks with the
  alias `S`, and every other proxied service's private network with the alias
  `S`: whoever calls `S:port` reaches the proxy, which calls `S--real:port` on
  `S--net`; the sidecar publishes S's ports instead of S (the tests' calls are
  recorded too) plus its control port, on the engine's loopback;
- services that are not proxied join every private network (no alias), so the
  real services still reach them by their own names.

Faults still act on the real S (its container keeps its service name).
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from pytest_microstack._engine.override import Tagged, published_ports
from pytest_microstack._settings import ServiceSpec

SIDECAR_SUFFIX = "--exchanges"
NETWORK_SUFFIX = "--net"
REAL_SUFFIX = "--real"
CONTROL_PORT = 47470  # inside the sidecar; another if the service itself uses it
FRONT_LABEL = "io.microstack.exchanges.front"  # on a sidecar: the service it stands in for


@dataclass(frozen=True)
class Front:
    """A proxied service: its sidecar's name, the port it serves and its control port."""

    service: str
    port: int
    mode: str
    control: int

    @property
    def sidecar(self) -> str:
        return f"{self.service}{SIDECAR_SUFFIX}"


def control_port(port: int) -> int:
    return CONTROL_PORT if port != CONTROL_PORT else CONTROL_PORT + 1


def fronts_for(services: Sequence[ServiceSpec], config: Mapping[str, Any]) -> list[Front]:
    """The declared services a proxy can stand in for: with a port (http or tcp) and on networks of their own.

    A service sharing another's network stack (`network_mode`) can't be moved, so it isn't proxied.
    """
    defined = config.get("services") or {}
    fronts = []
    for spec in services:
        definition = defined.get(spec.name)
        if definition is None or spec.port is None or spec.check not in ("http", "tcp"):
            continue
        if definition.get("network_mode"):
            continue
        fronts.append(Front(spec.name, spec.port, spec.check, control_port(spec.port)))
    return fronts


def proxy_source() -> str:
    """The proxy program's source, as shipped in the package."""
    return resources.files("pytest_microstack._exchanges").joinpath("proxy.py").read_text()


def launcher() -> str:
    """A `python3 -c` program that runs the proxy from its compressed source: no mount, no build.

    The proxy speaks no TLS: with `ssl` unavailable, asyncio never loads libssl, which
    saves about 4 MB in every proxy (issue 26 bounds the recording's memory).
    """
    packed = base64.b64encode(zlib.compress(proxy_source().encode(), 9)).decode()
    return (
        "import sys;sys.modules['ssl']=None;import base64,zlib;"
        f"exec(compile(zlib.decompress(base64.b64decode('{packed}')),'microstack-proxy','exec'))"
    )


def _networks(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A service's networks as compose resolved them (`default` when it names none)."""
    networks = definition.get("networks")
    if isinstance(networks, list):
        return {str(name): None for name in networks}
    return dict(networks or {"default": None})


def add_sidecars(
    override: dict[str, Any],
    config: Mapping[str, Any],
    fronts: Sequence[Front],
    *,
    images: Mapping[str, str],
    labels: Mapping[str, str],
    host_ip: str,
) -> dict[str, Any]:
    """The harness override (as data) with the proxies wired in; `images[S]` runs S's proxy."""
    if not fronts:
        return override
    defined = config.get("services") or {}
    services = override.setdefault("services", {})
    private = [f"{front.service}{NETWORK_SUFFIX}" for front in fronts]
    program = launcher()
    proxied = {front.service for front in fronts}
    for front in fronts:
        definition = defined[front.service]
        entry = services.setdefault(front.service, {})
        entry["networks"] = Tagged(
            "!override", {f"{front.service}{NETWORK_SUFFIX}": {"aliases": [_real(front)]}}
        )
        entry["ports"] = Tagged("!reset", [])
        own_net = f"{front.service}{NETWORK_SUFFIX}"
        networks: dict[str, Any] = {name: {"aliases": [front.service]} for name in _networks(definition)}
        networks.update({name: {"aliases": [front.service]} for name in private if name != own_net})
        networks[own_net] = None  # to reach the real one, as S--real; not as S
        services[front.sidecar] = {
            "image": images[front.service],
            "entrypoint": ["python3", "-c", program],
            "command": [
                "--service",
                front.service,
                "--listen",
                str(front.port),
                "--upstream",
                f"{_real(front)}:{front.port}",
                "--control",
                str(front.control),
                "--mode",
                front.mode,
            ],
            "labels": {**labels, FRONT_LABEL: front.service},
            "networks": networks,
            "ports": [*published_ports(definition, front.port, host_ip), f"{host_ip}::{front.control}"],
            "healthcheck": {"disable": True},
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "init": True,
            "environment": {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"},
        }
    for name, definition in defined.items():
        if name in proxied or definition.get("network_mode"):
            continue
        entry = services.setdefault(str(name), {})
        entry["networks"] = Tagged("!override", {**_networks(definition), **dict.fromkeys(private)})
    override_networks = override.setdefault("networks", {})
    for name in private:
        override_networks[name] = {"labels": dict(labels)}
    return override


def _real(front: Front) -> str:
    return f"{front.service}{REAL_SUFFIX}"


def fronts_in(override_text: str) -> dict[str, Front]:
    """The proxies an override wired in (service -> Front): for a stack attached later (--reuse-stack)."""
    data = yaml.load(override_text, Loader=_TagIgnoringLoader) or {}
    found = {}
    for name, entry in (data.get("services") or {}).items():
        front = ((entry or {}).get("labels") or {}).get(FRONT_LABEL)
        if not front or name != f"{front}{SIDECAR_SUFFIX}":
            continue
        command = list(entry.get("command") or [])
        options = dict(zip(command[::2], command[1::2], strict=False))
        found[front] = Front(front, int(options["--listen"]), options["--mode"], int(options["--control"]))
    return found


class _TagIgnoringLoader(yaml.SafeLoader):
    """Reads compose's `!override`/`!reset` tags as plain values."""


def _plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_TagIgnoringLoader.add_constructor("!override", _plain)
_TagIgnoringLoader.add_constructor("!reset", _plain)
