"""tools.remote_engine: which socket is forwarded, and how an engine is recognised on a port."""

from __future__ import annotations

import socket

from pytest_httpserver import HTTPServer

from tools.remote_engine import DEFAULT_ENGINE_SOCKET, engine_answers, free_loopback_port, local_engine_socket


def test_the_socket_docker_host_names_is_forwarded() -> None:
    assert (
        local_engine_socket({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"})
        == "/run/user/1000/docker.sock"
    )


def test_without_a_unix_docker_host_dockers_default_socket_is_forwarded() -> None:
    assert local_engine_socket({}) == DEFAULT_ENGINE_SOCKET
    assert local_engine_socket({"DOCKER_HOST": "tcp://10.0.0.2:2375"}) == DEFAULT_ENGINE_SOCKET


def test_an_engine_answers_ok_to_ping(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/_ping").respond_with_data("OK")

    assert engine_answers(httpserver.url_for("").rstrip("/")) is True


def test_another_answer_or_none_is_no_engine(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/_ping").respond_with_data("starting", status=503)

    assert engine_answers(httpserver.url_for("").rstrip("/")) is False
    assert engine_answers(f"http://127.0.0.1:{free_loopback_port()}") is False


def test_the_free_port_can_be_listened_on_at_once() -> None:
    port = free_loopback_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
