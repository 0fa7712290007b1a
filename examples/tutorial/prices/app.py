"""prices: the price of an item, in cents, over HTTP."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRICES = {"apple": 30, "pear": 45}


class Handler(BaseHTTPRequestHandler):
    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        item = self.path.removeprefix("/prices/")
        if self.path == "/health":
            self.reply(200, {"status": "ok"})
        elif item in PRICES:
            self.reply(200, {"item": item, "cents": PRICES[item]})
        else:
            self.reply(404, {"error": f"no price for {item!r}"})


ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
