"""A log's last lines on the real engine, a line written in two parts too (Podman's own tail mangles it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_microstack._engine.logs import log_tail

from .conftest import base_image_line

pytestmark = pytest.mark.integration
# The text, then its newline, as two writes far enough apart to reach the log as two parts;
# then a line's last part with no newline at all.
TWO_PARTS = (
    "import sys, time\n"
    "print('booting', flush=True)\n"
    "sys.stdout.write('refusing to start: CRASH_AT_BOOT=x'); sys.stdout.flush()\n"
    "time.sleep(0.3)\n"
    "sys.stdout.write('\\n'); sys.stdout.write('unended'); sys.stdout.flush()\n"
    "raise SystemExit(3)\n"
)


@pytest.fixture
def exited(engine: Any) -> Iterator[Any]:
    """A container that wrote a line in two parts and exited; removed after."""
    image = base_image_line().partition("=")[2] or "python:3.11-slim-bookworm"
    container = engine.containers.create(image, ["python3", "-u", "-c", TWO_PARTS], network_disabled=True)
    try:
        container.start()
        assert container.wait(timeout=60)["StatusCode"] == 3
        yield container
    finally:
        container.remove(force=True, v=True)


def test_the_last_lines_join_a_line_written_in_two_parts(exited: Any) -> None:
    assert log_tail(exited, 2) == b"refusing to start: CRASH_AT_BOOT=x\nunended"
    assert log_tail(exited, 3) == b"booting\nrefusing to start: CRASH_AT_BOOT=x\nunended"


def test_with_timestamps_each_line_has_one(exited: Any) -> None:
    lines = log_tail(exited, 2, timestamps=True).decode().split("\n")

    assert [line.partition(" ")[2] for line in lines] == ["refusing to start: CRASH_AT_BOOT=x", "unended"]
    assert all(line[:4].isdigit() and line.partition(" ")[0].endswith("Z") for line in lines), lines
