"""A stand-in for a measured service, run by test_contexts.py under the real coverage runtime.

Like gunicorn: a master that forks one worker, which serves HTTP on $SERVICE_PORT.
Each path runs one function, so a test can ask which contexts ran which function.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

FIRED = threading.Event()


def handled() -> str:
    return "handled"


def in_thread(results: list[str]) -> None:
    results.append("thread")


def late() -> None:
    FIRED.set()


def child_work() -> str:
    return "child"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = "ok"
        if self.path == "/work":
            body = handled()
        elif self.path == "/thread":
            results: list[str] = []
            worker = threading.Thread(target=in_thread, args=(results,))
            worker.start()
            worker.join()
            body = results[0]
        elif self.path == "/timer":
            threading.Timer(0.3, late).start()  # fires after the answer: outlives the request
        elif self.path == "/fired":
            body = "yes" if FIRED.is_set() else "no"
        elif self.path == "/subprocess":
            code = "import context_service; print(context_service.child_work())"
            body = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
        elif self.path == "/exit":
            threading.Thread(target=self.server.shutdown).start()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    pid = os.fork()
    if pid == 0:
        server = HTTPServer(("127.0.0.1", int(os.environ["SERVICE_PORT"])), Handler)
        print("ready", flush=True)  # noqa: T201 - the test waits for this line
        server.serve_forever()
        server.server_close()
        sys.exit(0)
    os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
