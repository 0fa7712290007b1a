"""gunicorn settings for user-service: the shared ones, its app and its port.

Run: gunicorn -c gunicorn.conf.py (the images do).
"""

from servicekit.gunicorn_settings import bind_address, common_settings
from user_service.passwords import MAX_HASHING_THREADS

globals().update(common_settings())  # gunicorn reads settings as this module's names
wsgi_app = "user_service:create_app()"
bind = bind_address(default_port=5000)

# Hashing (running or waiting for a slot) holds at most MAX_HASHING_THREADS threads of
# a worker: at least one more must be left for requests that never hash (the token check).
if threads <= MAX_HASHING_THREADS:  # type: ignore[name-defined]  # noqa: F821 - set by the update above
    raise SystemExit(
        f"configuration error: GUNICORN_THREADS must be more than {MAX_HASHING_THREADS} "
        f"(the threads hashing may hold), got {threads}"  # type: ignore[name-defined]  # noqa: F821
    )
