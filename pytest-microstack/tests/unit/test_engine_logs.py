"""_engine.logs: a log's last lines, a line written in parts joined, on Docker and Podman."""

from __future__ import annotations

import pytest
from pytest_microstack._engine.logs import last_lines, log_tail

from unit.fakes import FakeEngine

TS = b"2026-12-08T00:08:09Z "


@pytest.mark.parametrize(
    ("frames", "count", "expected"),
    [
        pytest.param([b"refusing to start", b"\n"], 1, b"refusing to start\n", id="a-line-in-two-parts"),
        pytest.param([b"a", b"b", b"c\n"], 1, b"abc\n", id="a-line-in-three-parts"),
        pytest.param([b"one\n", b"two\n", b"three\n"], 2, b"two\nthree\n", id="the-last-two"),
        pytest.param([b"one\n", b"two\n"], 2, b"one\ntwo\n", id="exactly-all"),
        pytest.param([b"one\n"], 40, b"one\n", id="fewer-than-asked"),
        pytest.param([b"one\ntwo\n", b"three\n"], 2, b"two\nthree\n", id="two-lines-in-one-frame"),
        pytest.param([b"one\n", b"no newline"], 1, b"no newline", id="an-unended-last-line-counts"),
        pytest.param([b"one\n", b"no newline"], 2, b"one\nno newline", id="an-unended-line-and-one-before"),
        pytest.param([b"one\n"], 0, b"", id="none-asked"),
        pytest.param([b"unended"], 0, b"", id="none-asked-of-an-unended-line"),
        pytest.param([], 5, b"", id="an-empty-log"),
    ],
)
def test_last_lines(frames: list[bytes], count: int, expected: bytes) -> None:
    assert last_lines(frames, count) == expected


def test_a_continued_line_keeps_its_first_timestamp_only() -> None:
    frames = [TS + b"one", TS + b"\n", TS + b"two\n", TS + b"three", TS + b" and more\n"]

    assert last_lines(frames, 2, timestamps=True) == TS + b"two\n" + TS + b"three and more\n"


def test_without_timestamps_a_continuation_is_kept_whole() -> None:
    assert last_lines([b"one", b"two words\n"], 1) == b"onetwo words\n"


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="line count of 0 or more, not -1"):
        last_lines([b"one\n"], -1)


def test_on_docker_the_engine_keeps_the_tail() -> None:
    engine = FakeEngine("docker")
    ident = engine.add_container("api", logs=b"one\ntwo\nthree\n")

    tail = log_tail(engine.containers.get(ident), 2, since=1700000000.5)

    assert tail == b"two\nthree\n"
    [call] = engine.calls_to("logs")
    assert call.kwargs == {"timestamps": False, "since": 1700000000.5, "tail": 2}


def test_on_podman_the_whole_log_is_streamed_and_its_parts_joined() -> None:
    engine = FakeEngine("podman")
    ident = engine.add_container("api")
    engine.container_log_frames[ident] = [b"one\n", b"refusing to start", b"\n"]

    tail = log_tail(engine.containers.get(ident), 1)

    assert tail == b"refusing to start\n"
    [call] = engine.calls_to("logs")
    assert call.kwargs == {"timestamps": False, "stream": True, "follow": False}
    assert [stream.closed for stream in engine.log_streams] == [True]
