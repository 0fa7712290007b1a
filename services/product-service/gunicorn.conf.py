"""gunicorn settings, read from the environment (run: gunicorn -c gunicorn.conf.py)."""

import os
import pathlib


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"configuration error: {name} must be > 0, got {value}")
    return value


wsgi_app = "product_service:create_app()"
bind = f"0.0.0.0:{_env_int('PORT', 5001)}"
workers = _env_int("GUNICORN_WORKERS", 2)
worker_class = "gthread"
threads = _env_int("GUNICORN_THREADS", 4)
timeout = 30
graceful_timeout = 5
# Load the app in the master: a bad setting stops startup once, with one clear error.
preload_app = True
accesslog = None  # the app writes its own JSON access line per request
errorlog = "-"
# gunicorn >= 25 opens a runtime-control socket under $HOME by default; a container
# has no use for it (and the non-root user may have no writable home).
control_socket_disable = True
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
# Heartbeat files on tmpfs: a slow container filesystem must not look like a hung
# worker.
if pathlib.Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"
