"""The app factory both services share, in the shape of Flask's tutorial factory.

Each service keeps its own `create_app(test_config=None)` entry point (gunicorn and
the tests call it) and describes itself with a Service; the steps every service
takes, in the order that matters, live here once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask

from servicekit import init_app, sqlite
from servicekit.config import Setting, load_settings
from servicekit.health import register_health

# One app is built at a time in a process. werkzeug compiles every URL rule with
# ast.parse, and CPython before 3.11.8 keeps the AST constructor's depth counter in
# state all threads share (gh-106905): a thread switch in the middle of a conversion
# (a GC run can make one) fails a parse with SystemError. The shared logging set-up
# (init_app) checks, then adds, its handler, which two threads could also both do.
# The database start-up runs outside: concurrent starters meet in SQLite's locks.
_BUILDING = threading.Lock()


@dataclass(frozen=True)
class Service:
    """What create_app needs to know about a service besides its own parts."""

    name: str
    #: The package's name, for Flask (its root path).
    import_name: str
    settings: Sequence[Setting]
    #: Opens the service's own database at start-up (schema, migrations, seed): first,
    #: so that setup may read it.
    init_db: Callable[[Flask], None]
    #: The table /ready reads: readiness covers the service's own database only, so a
    #: dependency being down does not take the service out.
    ready_table: str


def create_app(
    service: Service, test_config: Mapping[str, Any] | None, setup: Callable[[Flask], None]
) -> Flask:
    """Build the app from defaults, then env, then test_config (fail fast if invalid); then its parts.

    The shared plumbing comes first, so request ids, logs and JSON errors cover
    everything after it; then the database, then setup (the service's clients,
    blueprints and document), then /health and /ready. Safe to call from several
    threads at once.
    """
    with _BUILDING:
        app = Flask(service.import_name)
        app.config.from_mapping(load_settings(service.settings, overrides=test_config))
        # Flask keys such as TESTING may come from tests too; settings were validated above.
        app.config.update(test_config or {})
        init_app(app, service.name)
    service.init_db(app)
    with _BUILDING:
        setup(app)
        register_health(app, lambda: sqlite.ping(service.ready_table))
    return app
