"""gunicorn's own error log, redacted: its "Invalid request" lines quote what was sent."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from servicekit.redaction import RedactingFilter


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's Logger with credentials removed from every error-log line."""

    def setup(self, cfg: Any) -> None:
        """Set up as gunicorn does, then add the filter once (setup reruns on reload)."""
        super().setup(cfg)
        if not any(isinstance(f, RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(RedactingFilter())
