"""_engine.proxy_wiring: the override that puts a recording proxy where callers expect each service."""

from __future__ import annotations

import base64
import subprocess
import sys
import zlib
from typing import Any

from pytest_microstack._engine.override import harness_override
from pytest_microstack._engine.proxy_startup import candidate_images, python_image, sidecars
from pytest_microstack._engine.proxy_wiring import (
    CONTROL_PORT,
    Front,
    fronts_for,
    fronts_in,
    launcher,
    proxy_source,
)
from pytest_microstack._settings import ServiceSpec

from unit.compose_yaml import Tag, load_compose

LABELS = {"io.microstack.owner": "me"}
CONFIG: dict[str, Any] = {
    "services": {
        "api": {
            "image": "shop/api",
            "ports": [{"target": 5000, "published": "5000"}],
            "networks": {"default": None},
        },
        "db": {"image": "postgres"},  # not declared: no proxy
        "worker": {"image": "shop/worker", "networks": {"back": {"aliases": ["jobs"]}}},
        "sidekick": {"image": "x", "network_mode": "service:api"},
    },
    "networks": {"default": {}, "back": {}},
}
SERVICES = (
    ServiceSpec("api", 5000),
    ServiceSpec("worker", 7000, check="tcp"),
    ServiceSpec("db", check="running"),
)


def wired(image: str | None = "shop/api") -> dict[str, Any]:
    fronts = fronts_for(SERVICES, CONFIG)
    text = harness_override(
        CONFIG,
        LABELS,
        ports={"api": 5000},
        extend=sidecars(CONFIG, fronts, image=image, labels=LABELS, host_ip="127.0.0.1"),
    )
    return load_compose(text)


def test_only_declared_services_with_a_port_and_their_own_network_get_a_proxy() -> None:
    assert fronts_for(SERVICES, CONFIG) == [
        Front("api", 5000, "http", CONTROL_PORT),
        Front("worker", 7000, "tcp", CONTROL_PORT),
    ]
    assert fronts_for((ServiceSpec("sidekick", 80),), CONFIG) == []  # shares api's network stack
    assert fronts_for((ServiceSpec("gone", 80),), CONFIG) == []


def test_the_control_port_never_is_the_services_own() -> None:
    assert fronts_for((ServiceSpec("api", CONTROL_PORT),), CONFIG)[0].control == CONTROL_PORT + 1


def test_the_real_service_moves_to_a_private_network_and_publishes_nothing() -> None:
    api = wired()["services"]["api"]
    assert api["networks"] == Tag("!override", {"api--net": {"aliases": ["api--real"]}})
    assert api["ports"] == Tag("!reset", [])


def test_the_sidecar_takes_the_services_name_on_its_networks_and_every_other_private_one() -> None:
    services = wired()["services"]
    assert services["api--exchanges"]["networks"] == {
        "default": {"aliases": ["api"]},
        "worker--net": {"aliases": ["api"]},
        "api--net": None,  # where it reaches api--real, and is not `api` itself
    }
    assert services["worker--exchanges"]["networks"] == {
        "back": {"aliases": ["worker"]},
        "api--net": {"aliases": ["worker"]},
        "worker--net": None,
    }


def test_the_sidecar_publishes_the_services_port_and_its_control_port_on_loopback() -> None:
    sidecar = wired()["services"]["api--exchanges"]
    assert sidecar["ports"] == ["127.0.0.1::5000", f"127.0.0.1::{CONTROL_PORT}"]
    assert sidecar["command"][sidecar["command"].index("--upstream") + 1] == "api--real:5000"
    assert sidecar["labels"]["io.microstack.owner"] == "me"  # swept and removed with the stack
    assert sidecar["image"] == "shop/api"
    assert sidecar["read_only"] is True
    assert sidecar["cap_drop"] == ["ALL"]


def test_services_without_a_proxy_join_every_private_network_and_keep_their_own() -> None:
    services = wired()["services"]
    assert services["db"]["networks"] == Tag(
        "!override", {"default": None, "api--net": None, "worker--net": None}
    )
    assert "networks" not in services.get("sidekick", {})  # network_mode: it has none of its own


def test_the_private_networks_carry_the_owner_labels() -> None:
    networks = wired()["networks"]
    assert networks["api--net"] == {"labels": LABELS}
    assert networks["worker--net"] == {"labels": LABELS}


def test_without_an_image_nothing_is_wired() -> None:
    services = wired(image=None)["services"]
    assert "api--exchanges" not in services
    assert "networks" not in services["api"]


def test_a_kept_stacks_proxies_are_read_back_from_its_override() -> None:
    fronts = fronts_for(SERVICES, CONFIG)
    text = harness_override(
        CONFIG, LABELS, extend=sidecars(CONFIG, fronts, image="i", labels=LABELS, host_ip="::1")
    )
    assert fronts_in(text) == {front.service: front for front in fronts}
    assert fronts_in(harness_override(CONFIG, LABELS)) == {}


def test_the_launcher_carries_the_proxy_source_whole() -> None:
    packed = launcher().split("b64decode('")[1].split("')")[0]
    assert zlib.decompress(base64.b64decode(packed)).decode() == proxy_source()
    assert "$" not in launcher()  # nothing compose would interpolate


def test_the_launcher_runs_the_proxy_as_python3_c_does() -> None:
    result = subprocess.run(
        [sys.executable, "-c", launcher(), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "--upstream" in result.stdout


def test_the_launched_proxy_imports_asyncio_but_not_ssl() -> None:
    """No TLS in the proxy: libssl stays unloaded (about 4 MB of each proxy's memory)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", launcher(), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "asyncio" in imported
    assert (
        "_ssl" not in imported
    )  # the extension module that loads libssl (`ssl` itself is tried and refused)


def test_the_proxy_image_is_the_option_else_the_proxied_services_own_first() -> None:
    fronts = fronts_for(SERVICES, CONFIG)
    assert candidate_images(fronts, CONFIG, {}, "python:3.12") == ["python:3.12"]
    assert candidate_images(fronts, CONFIG, {"api": "built/api:tag"}, "") == [
        "built/api:tag",
        "shop/worker",
        "postgres",
        "x",
    ]
    assert python_image(["a", "b", "c"], lambda image: image != "a") == "b"
    assert python_image(["a"], lambda image: False) is None
