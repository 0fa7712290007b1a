"""_engine.network_teardown: a stopped container's network torn down, waited for on Podman only."""

from __future__ import annotations

import pytest
from pytest_microstack._engine.network_teardown import await_network_teardown, engine_nanoseconds

from unit.fakes import FakeEngine

STOPPED = "2026-12-08T00:07:10.092902964Z"
STOPPED_NS = 1796688430_092902964


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        pytest.param(STOPPED, STOPPED_NS, id="nanoseconds-z"),
        pytest.param("2026-12-08T00:07:10.5+00:00", 1796688430_500000000, id="offset-zero"),
        pytest.param("2026-12-08T00:07:10Z", 1796688430_000000000, id="no-fraction"),
        pytest.param("2026-12-08T00:07:10.1234567891Z", 1796688430_123456789, id="more-than-nanoseconds"),
        pytest.param("", None, id="empty"),
        pytest.param("yesterday", None, id="not-a-time"),
    ],
)
def test_engine_nanoseconds(stamp: str, expected: int | None) -> None:
    assert engine_nanoseconds(stamp) == expected


def stopped(engine: FakeEngine) -> str:
    ident = engine.add_container("api", status="exited", exit_code=137)
    engine.state(ident)["FinishedAt"] = STOPPED
    return ident


def cleanup(ident: str, nanoseconds: int) -> dict[str, object]:
    return {"Type": "container", "Action": "cleanup", "id": ident, "timeNano": nanoseconds}


def test_on_docker_nothing_is_waited_for() -> None:
    engine = FakeEngine("docker")
    ident = stopped(engine)

    assert await_network_teardown(engine, engine.containers.get(ident))
    assert engine.calls_to("events") == []


def test_on_podman_its_cleanup_after_it_stopped_is_waited_for() -> None:
    engine = FakeEngine("podman")
    ident = stopped(engine)
    engine.engine_events = [cleanup(ident, STOPPED_NS + 250_000_000)]

    assert await_network_teardown(engine, engine.containers.get(ident), timeout=10)

    [call] = engine.calls_to("events")
    since = STOPPED_NS // 10**9
    assert call.kwargs == {
        "since": since,
        "until": since + 11,
        "filters": {"container": ident, "event": "cleanup"},
        "decode": True,
    }
    assert [stream.closed for stream in engine.log_streams] == [True]


def test_on_podman_an_earlier_stops_cleanup_is_not_this_ones() -> None:
    """The same second can hold the cleanup of the stop before a heal and a new crash."""
    engine = FakeEngine("podman")
    ident = stopped(engine)
    engine.engine_events = [cleanup(ident, STOPPED_NS - 1)]

    assert not await_network_teardown(engine, engine.containers.get(ident))
    assert [stream.closed for stream in engine.log_streams] == [True]


def test_on_podman_a_container_with_no_stop_time_is_not_waited_for() -> None:
    engine = FakeEngine("podman")
    ident = engine.add_container("api")

    assert not await_network_teardown(engine, engine.containers.get(ident))
    assert engine.calls_to("events") == []
