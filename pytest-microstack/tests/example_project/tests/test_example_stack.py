"""Tests an outside project writes against pytest-microstack, using only its generic fixtures."""

import socket

from pytest_microstack import wait_for


def test_web_answers_with_the_configured_environment(service_client):
    web = service_client("web")

    body = web.get("/").json()

    assert body == {"greeting": "hello from the tests", "has_token": True}


def test_web_stores_items_in_kv_over_the_stack_network(service_client):
    web = service_client("web")

    assert web.put("/items/colour", data="blue").json() == {"stored": "OK"}
    assert web.get("/items/colour").json() == {"value": "blue"}


def test_kv_is_reached_over_plain_tcp_on_a_random_host_port(stack):
    host, port = stack.address("kv")

    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(b"SET direct yes\nGET direct\n")
        reader = connection.makefile()
        replies = [reader.readline().strip(), reader.readline().strip()]

    assert replies == ["OK", "yes"]


def test_fixed_host_port_and_container_name_are_not_used(stack, service_url):
    assert not service_url("web").endswith(":8080")
    assert stack.container("web").name != "example-web"


def test_worker_without_ports_is_healthy_by_its_docker_healthcheck(stack):
    assert stack.state("worker").health == "healthy"


def test_secret_is_fresh_and_not_in_the_compose_file(stack):
    token = stack.environment("web")["API_TOKEN"]

    assert len(token) >= 32


def test_kv_down_gives_503_and_heals(faults, service_client):
    web = service_client("web")
    web.put("/items/k", data="v")

    with faults.down("kv"):
        assert web.get("/items/k").status_code == 503

    assert wait_for(lambda: web.get("/items/k").status_code in (200, 404), timeout=10, what="kv back")


def test_project_fault_from_the_hook(faults, service_client):
    web = service_client("web")
    web.put("/items/gone", data="soon")

    with faults.amnesia("kv"):
        assert wait_for(lambda: web.get("/items/gone").status_code == 404, timeout=10, what="kv forgot")
