"""The last lines of a container's log, right on Podman too.

Podman's `logs?tail=N` (k8s-file, its default log driver; 4.3 is Debian 12's)
mis-assembles a line that reached the log in two parts, its text and then its
newline, as `print()` in an unbuffered Python writes it: the tail of
"refusing to start: ...\\n" came back as "\\n", and a crash's diagnosis said
"(no output)" (containers/podman#19545, fixed upstream by #19562). Whether the
two parts arrive as one is a race, so it was a flake. On Podman the log is read
whole, as a stream, and its last lines are kept here; Docker's own tail is right.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from pytest_microstack._engine.engine import engine_info


def last_lines(frames: Iterable[bytes], count: int, *, timestamps: bool = False) -> bytes:
    """The last `count` lines of a log read as frames, a line's parts joined into one line.

    A frame that doesn't end its line is continued by the next one; with
    `timestamps`, the continuation's own timestamp is dropped (the line keeps its first).
    """
    if count < 0:
        raise ValueError(f"a log tail needs a line count of 0 or more, not {count}")
    lines: deque[bytes] = deque(maxlen=count)
    current = b""
    for frame in frames:
        if current and timestamps:
            frame = frame.partition(b" ")[2]
        current += frame
        *complete, current = current.split(b"\n")
        lines.extend(line + b"\n" for line in complete)
    if current:
        lines.append(current)
    return b"".join(lines)


def log_tail(container: Any, lines: int, *, timestamps: bool = False, since: float | None = None) -> bytes:
    """The last `lines` lines of the container's log (since a `time.time()`, when given)."""
    options: dict[str, Any] = {"timestamps": timestamps}
    if since is not None:
        options["since"] = since
    if not engine_info(container.client).is_podman:
        return bytes(container.logs(tail=lines, **options))
    stream = container.logs(stream=True, follow=False, **options)
    try:
        return last_lines(stream, lines, timestamps=timestamps)
    finally:
        stream.close()
