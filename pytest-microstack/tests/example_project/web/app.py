"""A small HTTP service that keeps items in the kv service, over the stack's network."""

import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if os.environ.get("CRASH_AT_BOOT"):
    print(f"refusing to start: CRASH_AT_BOOT={os.environ['CRASH_AT_BOOT']}", flush=True)
    sys.exit(3)
KV_HOST, KV_PORT = os.environ.get("KV_ADDRESS", "kv:6400").split(":")


def kv(command: str) -> str:
    with socket.create_connection((KV_HOST, int(KV_PORT)), timeout=1) as connection:
        connection.sendall(command.encode() + b"\n")
        return connection.makefile().readline().strip()


class Handler(BaseHTTPRequestHandler):
    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self.reply(200, {"status": "ok"})
        elif self.path == "/":
            self.reply(
                200,
                {"greeting": os.environ.get("GREETING", ""), "has_token": bool(os.environ.get("API_TOKEN"))},
            )
        elif self.path.startswith("/items/"):
            try:
                value = kv(f"GET {self.path[7:]}")
            except OSError as error:
                self.reply(503, {"error": f"kv unreachable: {error}"})
                return
            self.reply(404 if value == "NONE" else 200, {"value": value})
        else:
            self.reply(404, {"error": "not found"})

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        value = self.rfile.read(length).decode().strip()
        try:
            self.reply(200, {"stored": kv(f"SET {self.path[7:]} {value}")})
        except OSError as error:
            self.reply(503, {"error": f"kv unreachable: {error}"})


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
