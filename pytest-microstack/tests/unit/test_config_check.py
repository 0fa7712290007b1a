"""_engine.config_check: compose files the harness can't run are refused, naming service and key."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_microstack._engine.config_check import check_config
from pytest_microstack._errors import TROUBLESHOOTING, StackConfigError
from pytest_microstack._settings import ServiceSpec

FILES = "compose.yaml, compose.ci.yaml"


def config(**services: dict[str, Any]) -> dict[str, Any]:
    return {"name": "shop", "services": services}


def refusal(conf: dict[str, Any], *specs: ServiceSpec) -> StackConfigError:
    with pytest.raises(StackConfigError) as caught:
        check_config(conf, specs, FILES)
    return caught.value


def test_a_config_the_harness_can_run_passes() -> None:
    conf = config(
        api={"build": {"context": "/src"}, "ports": [{"target": 5000}]},
        db={"image": "postgres:16", "healthcheck": {"test": ["CMD", "pg_isready"]}},
        worker={"image": "w", "network_mode": "host"},
        cron={"image": "c", "deploy": {"replicas": 1}, "scale": 1},
        idle={"image": "i", "deploy": {"replicas": 0}},
    )

    check_config(
        conf,
        (
            ServiceSpec("api", 5000),
            ServiceSpec("db", check="docker"),
            ServiceSpec("worker", check="running"),
            ServiceSpec("cron", check="running"),
            ServiceSpec("idle", check="running"),
        ),
        FILES,
    )


def test_a_declared_service_missing_from_the_compose_files() -> None:
    error = refusal(
        config(api={"image": "a"}, db={"image": "d"}), ServiceSpec("api", 5000), ServiceSpec("billing", 80)
    )

    assert (error.service, error.key) == ("billing", "services")
    assert str(error) == (
        "service 'billing', key 'services': declared in stack_services but not defined in "
        f"{FILES} (services: api, db) [docs: {TROUBLESHOOTING}#stackconfigerror]"
    )


def test_a_compose_file_without_services() -> None:
    error = refusal({"name": "empty"}, ServiceSpec("api", 5000))
    assert (error.service, error.key) == ("api", "services")
    assert "(services: none)" in str(error)


def test_a_service_with_neither_image_nor_build() -> None:
    error = refusal(config(api={"ports": [{"target": 5000}]}), ServiceSpec("api", 5000))

    assert (error.service, error.key) == ("api", "image")
    assert "has neither `image:` nor `build:`" in str(error)


@pytest.mark.parametrize("network_mode", ["host", "container:sidecar", "service:proxy"])
@pytest.mark.parametrize("check", ["http", "tcp"])
def test_a_port_check_on_a_service_that_publishes_no_ports(network_mode: str, check: str) -> None:
    spec = ServiceSpec("api", 5000, check=check)  # type: ignore[arg-type]

    error = refusal(config(api={"image": "a", "network_mode": network_mode}), spec)

    assert (error.service, error.key) == ("api", "network_mode")
    assert repr(network_mode) in str(error)
    assert f"the {check} check on port 5000" in str(error)


@pytest.mark.parametrize("network_mode", ["bridge", "none", "default"])
def test_other_network_modes_are_left_to_compose(network_mode: str) -> None:
    check_config(config(api={"image": "a", "network_mode": network_mode}), (ServiceSpec("api", 5000),), FILES)


def test_a_docker_check_on_a_service_whose_healthcheck_is_disabled() -> None:
    conf = config(worker={"image": "w", "healthcheck": {"disable": True}})

    error = refusal(conf, ServiceSpec("worker", check="docker"))

    assert (error.service, error.key) == ("worker", "healthcheck")
    assert "is disabled, but the service is checked by it" in str(error)
    check_config(conf, (ServiceSpec("worker", check="running"),), FILES)  # another check is fine


@pytest.mark.parametrize(
    "service",
    [
        pytest.param({"image": "w", "deploy": {"replicas": 3}}, id="deploy-replicas"),
        pytest.param({"image": "w", "scale": 2}, id="scale"),
    ],
)
def test_a_service_with_more_than_one_replica(service: dict[str, Any]) -> None:
    error = refusal(config(worker=service), ServiceSpec("worker", check="running"))

    assert (error.service, error.key) == ("worker", "deploy.replicas")
    assert "more than one replica" in str(error)


def test_the_first_problem_is_reported_in_declaration_order() -> None:
    conf = config(a={"image": "a", "scale": 2}, b={})

    error = refusal(conf, ServiceSpec("b", check="running"), ServiceSpec("a", check="running"))

    assert (error.service, error.key) == ("b", "image")


def test_undeclared_services_are_not_checked() -> None:
    check_config(config(api={"image": "a"}, sidecar={"scale": 5}), (ServiceSpec("api", 5000),), FILES)
