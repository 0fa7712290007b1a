"""A background worker with no port: it marks itself ready with a file its healthcheck tests."""

import pathlib
import signal
import sys
import threading

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
pathlib.Path("/tmp/ready").write_text("ready\n")
print("worker ready", flush=True)
while not stop.wait(60):
    print("worker tick", flush=True)
sys.exit(0)
