"""Hide secret values in what the harness writes for people to read.

Failure reports are uploaded as CI artifacts, and JUnit files and terminal logs
next to them, which more people can read than the job's secrets. Two rules,
applied to nested data (a compose config, a `docker inspect`), to plain text
(logs) and to pytest's test reports: a value whose key looks secret is masked,
and every known secret value is masked wherever it appears. Known values are
the run's (declared secrets, sensitive-looking variables of the stack's
environment) and the host's: a CI runner's own `DB_PASS` can reach a report
through a test's output as easily as the stack's secret.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
# Substrings anywhere in the name (PASS covers PASSWORD and PASSWD, AUTH covers
# API_AUTH and AUTHORIZATION), and PWD only after a separator (MYSQL_PWD): the
# shell's own PWD and OLDPWD are the working directory, which every report
# names and which is no secret.
SENSITIVE_KEY = re.compile(r"SECRET|TOKEN|PASS|AUTH|KEY|CREDENTIAL|[_.-]PWD(?![A-Z0-9])", re.IGNORECASE)
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


def run_secret_values(
    environment: Mapping[str, str], secret_names: Iterable[str], host: Mapping[str, str] | None = None
) -> set[str]:
    """The run's secret values (`secret_values` of the stack's environment) and the host's.

    `host` defaults to this process's environment: what a test can print
    without the stack knowing it.
    """
    host_environment = os.environ if host is None else host
    return secret_values(environment, secret_names) | secret_values(host_environment, secret_names)


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

    def report(self, report: Any) -> None:
        """Mask a pytest report in place: its longrepr (every string in it) and its sections.

        Done in `pytest_runtest_makereport`, before the terminal, JUnit XML or
        xdist's serialisation read it, so all of them see the masked text.
        """
        longrepr = report.longrepr
        if isinstance(longrepr, str | tuple):
            report.longrepr = self._strings(longrepr)
        elif longrepr is not None:
            self._strings(longrepr)
        report.sections = [(title, self.text(content)) for title, content in report.sections]

    def _strings(self, value: Any) -> Any:
        """`value` with every string in it masked: pytest's repr dataclasses are changed in place."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list | tuple):
            return type(value)(self._strings(item) for item in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                if field.name != "style":  # "long", "short": a setting, not text
                    object.__setattr__(value, field.name, self._strings(getattr(value, field.name)))
        return value
