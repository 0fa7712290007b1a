"""The compose file the harness adds on top of the project's own for a test run.

It is what lets a project's compose file stay as it is for `docker compose up`:
the override labels everything with its owner, tags built images by their
inputs, publishes every port on a random host port, and removes what would make
two runs collide (fixed container names). Written with a YAML library, so no
name or value from the project's files can change its structure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

HEADER = "# Written by pytest-microstack for one test run; not for editing.\n"


@dataclass(frozen=True)
class Tagged:
    """A YAML node with compose's merge tags: `!override` replaces, `!reset` removes."""

    tag: str
    value: Any


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also writes compose's `!override`/`!reset` tags."""


def _represent_tagged(dumper: yaml.SafeDumper, data: Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    return dumper.represent_scalar(data.tag, "" if data.value is None else str(data.value))


_Dumper.add_representer(Tagged, _represent_tagged)


def published_ports(service: Mapping[str, Any], extra: int | None, host_ip: str) -> list[str]:
    """Every container port the service publishes (and `extra`), each on a random host port."""
    targets: list[str] = []
    for port in service.get("ports") or []:
        target = str(port["target"]) if isinstance(port, Mapping) else str(port).rsplit(":", 1)[-1]
        protocol = port.get("protocol", "tcp") if isinstance(port, Mapping) else "tcp"
        entry = target if protocol == "tcp" else f"{target}/{protocol}"
        if entry not in targets:
            targets.append(entry)
    if extra is not None and str(extra) not in targets:
        targets.append(str(extra))
    return [f"{host_ip}::{target}" for target in targets]


def build_override(
    config: Mapping[str, Any],
    labels: Mapping[str, str],
    *,
    images: Mapping[str, str],
    ports: Mapping[str, int | None],
    host_ip: str,
    parallel_start: bool,
    image_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The override as data: see `harness_override`."""
    services: dict[str, Any] = {}
    for name, service in (config.get("services") or {}).items():
        entry: dict[str, Any] = {"labels": dict(labels)}
        if name in images:
            entry["image"] = images[name]
            if image_labels and service.get("build"):
                entry["build"] = {"labels": dict(image_labels)}
        publish = published_ports(service, ports.get(name), host_ip)
        if publish:  # every declared port is in it, so a service with ports always gets them replaced
            entry["ports"] = Tagged("!override", publish)
        if service.get("container_name"):
            entry["container_name"] = Tagged("!reset", None)
        if parallel_start and service.get("depends_on"):
            entry["depends_on"] = Tagged("!reset", {})
        services[str(name)] = entry
    override: dict[str, Any] = {"services": services}
    for section in ("networks", "volumes"):
        owned = {
            str(name): {"labels": dict(labels)}
            for name, spec in (config.get(section) or {}).items()
            if not (spec or {}).get("external")
        }
        if owned:
            override[section] = owned
    return override


def harness_override(
    config: Mapping[str, Any],
    labels: Mapping[str, str],
    *,
    images: Mapping[str, str] | None = None,
    ports: Mapping[str, int | None] | None = None,
    host_ip: str = "127.0.0.1",
    parallel_start: bool = False,
    image_labels: Mapping[str, str] | None = None,
    extend: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> str:
    """YAML for the override of one run.

    - every container, network and volume gets the owner labels;
    - services that compose builds get `images[name]` as their image, built
      with `image_labels` (which checkout built it: the prune's scope);
    - every published port (and each declared port) is published on `host_ip`
      with a random host port, replacing fixed ones;
    - `container_name` is reset, so parallel runs don't collide;
    - with `parallel_start`, `depends_on` is reset so every service starts at once;
    - `extend` changes the data last (the exchanges' proxies: `_engine.proxy_wiring`).
    """
    data = build_override(
        config,
        labels,
        images=images or {},
        ports=ports or {},
        host_ip=host_ip,
        parallel_start=parallel_start,
        image_labels=image_labels,
    )
    if extend is not None:
        data = extend(data)
    return HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False)
