"""Refuse, before anything starts, compose files the harness cannot run as declared.

Each problem is reported with the service and the compose key at fault, so a
newcomer's first run says what to change instead of failing with a KeyError
halfway through start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_microstack._errors import StackConfigError
from pytest_microstack._settings import ServiceSpec


def check_config(config: Mapping[str, Any], services: tuple[ServiceSpec, ...], files: str) -> None:
    """Raise StackConfigError for the first declared service the config can't serve."""
    available = config.get("services") or {}
    for spec in services:
        if spec.name not in available:
            names = ", ".join(sorted(available)) or "none"
            raise StackConfigError(
                spec.name,
                "services",
                f"declared in stack_services but not defined in {files} (services: {names})",
            )
        service = available[spec.name]
        if not service.get("image") and not service.get("build"):
            raise StackConfigError(spec.name, "image", "has neither `image:` nor `build:`")
        network_mode = str(service.get("network_mode") or "")
        if spec.port is not None and (
            network_mode == "host" or network_mode.startswith(("container:", "service:"))
        ):
            raise StackConfigError(
                spec.name,
                "network_mode",
                f"{network_mode!r} publishes no ports, so the {spec.check} check on port {spec.port} "
                "can't reach it",
            )
        healthcheck = service.get("healthcheck") or {}
        if spec.check == "docker" and healthcheck.get("disable"):
            raise StackConfigError(spec.name, "healthcheck", "is disabled, but the service is checked by it")
        if (service.get("deploy") or {}).get("replicas", 1) not in (0, 1) or (service.get("scale") or 1) > 1:
            raise StackConfigError(
                spec.name, "deploy.replicas", "more than one replica: declare one service per container"
            )
