"""Hide secret values in what the harness writes to disk for people to read.

Failure reports are uploaded as CI artifacts, which more people can read than
the job's secrets. Two rules, applied to nested data (a compose config, a
`docker inspect`) and to plain text (logs): a value whose key looks secret is
masked, and every known secret value is masked wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
SENSITIVE_KEY = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
# Shorter values are too likely to occur by chance ("1", "true") to be replaced everywhere.
MIN_VALUE_LENGTH = 4
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$", re.DOTALL)


def is_sensitive(key: str) -> bool:
    """Whether a variable or mapping key names something secret."""
    return bool(SENSITIVE_KEY.search(key))


def secret_values(environment: Mapping[str, str], secret_names: Iterable[str]) -> set[str]:
    """The values to hide: those of the declared secrets and of every sensitive-looking variable."""
    names = set(secret_names)
    return {
        value
        for key, value in environment.items()
        if (key in names or is_sensitive(key)) and len(value) >= MIN_VALUE_LENGTH
    }


class Masker:
    """Masks known secret values and the values of sensitive-looking keys."""

    def __init__(self, values: Iterable[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self.values = sorted({v for v in values if len(v) >= MIN_VALUE_LENGTH}, key=len, reverse=True)

    def text(self, text: str) -> str:
        """`text` with every known secret value replaced."""
        for value in self.values:
            text = text.replace(value, MASK)
        return text

    def data(self, data: Any, *, sensitive: bool = False) -> Any:
        """A copy of nested dicts/lists with secrets masked; scalars under a sensitive key are masked."""
        if isinstance(data, Mapping):
            return {
                key: self.data(value, sensitive=sensitive or is_sensitive(str(key)))
                for key, value in data.items()
            }
        if isinstance(data, list | tuple):
            return [self.data(item, sensitive=sensitive) for item in data]
        if isinstance(data, str):
            if sensitive:
                return MASK
            assignment = _ASSIGNMENT.match(data)  # "KEY=VALUE", as in an environment list
            if assignment and is_sensitive(assignment.group(1)):
                return f"{assignment.group(1)}={MASK}"
            return self.text(data)
        if sensitive and isinstance(data, int | float) and not isinstance(data, bool):
            return MASK
        return data
