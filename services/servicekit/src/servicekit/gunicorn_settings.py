"""gunicorn settings shared by every service, read from the environment.

Each service's gunicorn.conf.py takes these and adds its app and port.
"""

import os
import pathlib


def env_int(name: str, default: int) -> int:
    """A positive integer setting; a bad value stops gunicorn with a message naming it."""
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"configuration error: {name} must be > 0, got {value}")
    return value


def common_settings() -> dict[str, object]:
    """The shared settings, read from the environment now (also on a config reload)."""
    settings: dict[str, object] = {
        "workers": env_int("GUNICORN_WORKERS", 2),
        # gthread, but a request reaches a thread only once it has arrived whole (408 past
        # a deadline): slow clients can't hold the threads (gunicorn_worker.py says why).
        "worker_class": "servicekit.gunicorn_worker.BufferingThreadWorker",
        "threads": env_int("GUNICORN_THREADS", 4),
        "timeout": 30,
        "graceful_timeout": 5,
        # Load the app in the master: a bad setting stops startup once, with one clear error.
        "preload_app": True,
        "accesslog": None,  # the app writes its own JSON access line per request
        "errorlog": "-",
        # Its "Invalid request" warnings quote header lines: keep credentials out.
        "logger_class": "servicekit.gunicorn_logging.RedactingLogger",
        # gunicorn >= 25 opens a runtime-control socket under $HOME by default; a
        # container has no use for it (and the non-root user may have no writable home).
        "control_socket_disable": True,
        "loglevel": (os.environ.get("LOG_LEVEL") or "info").lower(),
    }
    # Heartbeat files on tmpfs: a slow container filesystem must not look like a hung worker.
    if pathlib.Path("/dev/shm").is_dir():
        settings["worker_tmp_dir"] = "/dev/shm"
    return settings


def bind_address(default_port: int) -> str:
    """All interfaces of the container, on $PORT or the service's own port."""
    return f"0.0.0.0:{env_int('PORT', default_port)}"
