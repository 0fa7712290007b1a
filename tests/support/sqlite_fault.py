"""The `erroring` fault: keep a service up but make its SQLite file unreadable, so it answers 500."""

from __future__ import annotations

from collections.abc import Callable

from docker.models.containers import Container
from pytest_microstack import FaultError, Stack, exec_in

DATABASE_VARIABLE = "DATABASE_PATH"


def make_database_unreadable(stack: Stack, container: Container) -> Callable[[], None]:
    """chmod 000 the service's database file, as the service's own user; returns the undo.

    As its own user, not root: the containers drop every capability, so root
    could not change a file it doesn't own, and the service's user owns this one.
    """
    service = str(container.labels.get("com.docker.compose.service", container.name))
    path = stack.environment(service).get(DATABASE_VARIABLE)
    if not path:
        raise FaultError(f"{service}: no {DATABASE_VARIABLE} in its environment to make unreadable")
    mode = exec_in(container, ["stat", "-c", "%a", path]).strip()
    exec_in(container, ["chmod", "000", path])

    def undo() -> None:
        exec_in(container, ["chmod", mode, path])

    return undo
