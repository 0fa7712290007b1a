"""Inside every measured process: switch coverage.py's context when the test run says so.

Copied into the runtime folder as `microstack_context_agent` and started by its
sitecustomize once coverage runs. Standard library and coverage only: it runs
under the container's Python, not this package's.

One process per container (the first to bind CONTEXT_PORT; gunicorn's master
for a gunicorn service) is the relay: the test run connects to it through the
port the override publishes. Every other Python process there (forked workers,
subprocesses) connects to the relay as a member. A switch reaches the relay,
which switches itself and every member and answers once each of them has
switched (`Coverage.switch_context` flushes what was measured so far into the
old context): so everything a process ran before the answer belongs to the old
context, everything after it to the new one. A member that joins gets the
current context before it runs any code of its own. When the relay ends, its
members elect a new one (whoever binds the port first), which goes on with the
context it last had.

The relay also writes the current context into the data folder, so a service
restarted by a fault goes on in the context it had, not in the one for work
outside tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from typing import Any

PORT_ENV = "MICROSTACK_CONTEXT_PORT"
# Where the relay keeps the current context (the service's data folder).
STATE_ENV = "MICROSTACK_CONTEXT_STATE"
# The context of work done outside any test: start-up, between a restart and the next test, the end.
OUTSIDE = "(outside tests)"
JOIN_TIMEOUT = 2.0  # seconds for a new process to reach the relay (or become it)
MEMBER_TIMEOUT = 1.0  # seconds the relay waits for one member to switch; then it drops it

_agent: Agent | None = None


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def _receive(reader: Any) -> dict[str, Any]:
    line = reader.readline()
    if not line:
        raise ConnectionError("closed")
    message: dict[str, Any] = json.loads(line)
    return message


def _switch(context: str) -> None:
    import coverage

    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(context)


class Agent:
    """This process's side: relay or member; `context` is the one it measures in now."""

    def __init__(self, port: int, state: str | None, context: str) -> None:
        self.port = port
        self.state = state
        self.context = context
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.link: socket.socket | None = None
        self.members: list[tuple[socket.socket, Any]] = []

    def join(self) -> bool:
        """Become the relay or register with it (switching to its context); False if neither worked."""
        deadline = time.monotonic() + JOIN_TIMEOUT
        while time.monotonic() < deadline:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("0.0.0.0", self.port))  # the published port reaches it there
                listener.listen(64)
            except OSError:
                listener.close()
            else:
                self.listener = listener
                self._become_relay()
                return True
            try:
                link = socket.create_connection(("127.0.0.1", self.port), timeout=JOIN_TIMEOUT)
                reader = link.makefile("rb")
                _send(link, {"member": os.getpid()})
                context = str(_receive(reader)["context"])
                self._set(context)
                _send(link, {"ok": os.getpid()})
                link.settimeout(None)
                self.link = link
                self.reader = reader
                return True
            except (OSError, ValueError, KeyError):
                time.sleep(0.01)  # the relay is going away: bind or reach the next one, under the deadline
        return False

    def _become_relay(self) -> None:
        if self.state and os.path.isfile(self.state):
            try:
                with open(self.state) as saved:
                    self._set(saved.read() or self.context)
            except OSError:
                pass

    def _set(self, context: str) -> None:
        if context != self.context:
            _switch(context)
            self.context = context

    def serve(self) -> None:
        """The agent's thread: accept as relay, or follow the relay as member (and re-join when it ends)."""
        while True:
            if self.listener is not None:
                self._accept_forever(self.listener)
            elif self.link is not None:
                self._follow(self.link)
                self.link = None
                if not self.join():
                    return

    def _follow(self, link: socket.socket) -> None:
        try:
            while True:
                message = _receive(self.reader)
                self._set(str(message["context"]))
                _send(link, {"ok": os.getpid()})
        except (OSError, ValueError, KeyError):
            link.close()

    def _accept_forever(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        try:
            connection.settimeout(JOIN_TIMEOUT)
            first = _receive(reader)
            if "member" in first:
                with self.lock:
                    _send(connection, {"context": self.context})
                    _receive(reader)
                    connection.settimeout(MEMBER_TIMEOUT)
                    self.members.append((connection, reader))
                return
            connection.settimeout(None)  # the test run's link: it switches, waits, switches again
            message = first
            while True:
                switched = self.switch_all(str(message["switch"]))
                _send(connection, {"ok": switched, "pid": os.getpid()})
                message = _receive(reader)
        except (OSError, ValueError, KeyError):
            connection.close()

    def switch_all(self, context: str) -> int:
        """Switch this process and every member; returns how many processes did."""
        with self.lock:
            self._set(context)
            self._save(context)
            alive = []
            for sock, reader in self.members:
                try:
                    _send(sock, {"context": context})
                except OSError:
                    sock.close()
                    continue
                alive.append((sock, reader))
            answered = []
            for sock, reader in alive:
                try:
                    _receive(reader)
                except (OSError, ValueError):
                    sock.close()  # gone, or stuck past MEMBER_TIMEOUT: dropped, it re-joins if alive
                    continue
                answered.append((sock, reader))
            self.members = answered
            return 1 + len(answered)

    def _save(self, context: str) -> None:
        if not self.state:
            return
        try:
            with open(self.state, "w") as out:
                out.write(context)
        except OSError:
            self.state = None  # not writable here: restarts begin outside tests instead

    def close_inherited(self) -> None:
        """In a forked child: the parent's sockets are not this process's to use."""
        for sock in [self.listener, self.link, *(sock for sock, _ in self.members)]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


def start() -> None:
    """Join this process to its container's relay and keep following it; forked children join too."""
    global _agent
    port = int(os.environ.get(PORT_ENV) or 0)
    if not port:
        return
    _agent = Agent(port, os.environ.get(STATE_ENV), OUTSIDE)
    _switch(OUTSIDE)
    if _agent.join():
        threading.Thread(target=_agent.serve, name="microstack-contexts", daemon=True).start()
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _after_fork_in_child() -> None:
    """After coverage's own handler (it restarts coverage in the child, with no context): join anew."""
    global _agent
    parent = _agent
    if parent is None:
        return
    parent.close_inherited()
    _agent = Agent(parent.port, parent.state, parent.context)
    _switch(parent.context)
    if _agent.join():
        threading.Thread(target=_agent.serve, name="microstack-contexts", daemon=True).start()
