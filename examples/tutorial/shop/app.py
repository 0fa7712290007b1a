"""shop: quotes an item at the price the prices service gives; 503 while prices is away."""

import json
import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRICES_URL = os.environ["PRICES_URL"]
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy between services


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
            return
        item = self.path.removeprefix("/quote/")
        try:
            with DIRECT.open(f"{PRICES_URL}/prices/{item}", timeout=2) as answer:
                price = json.load(answer)
        except urllib.error.HTTPError as error:
            self.reply(error.code, {"error": f"prices said {error.code}"})
        except OSError as error:  # refused, unresolvable, timed out: prices is away
            self.reply(503, {"error": f"prices unreachable: {error}"})
        else:
            self.reply(200, {"item": item, "total": f"{price['cents'] / 100:.2f}"})


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
