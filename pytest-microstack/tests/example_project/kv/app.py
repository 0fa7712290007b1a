"""A tiny TCP key-value store: `SET key value` -> `OK`, `GET key` -> the value or `NONE`."""

import socketserver

STORE: dict[str, str] = {}


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for raw in self.rfile:
            words = raw.decode().strip().split(" ", 2)
            if words[0] == "SET" and len(words) == 3:
                STORE[words[1]] = words[2]
                self.wfile.write(b"OK\n")
            elif words[0] == "GET" and len(words) == 2:
                self.wfile.write((STORE.get(words[1], "NONE") + "\n").encode())
            else:
                self.wfile.write(b"ERR\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server(("0.0.0.0", 6400), Handler) as server:
        server.serve_forever()
