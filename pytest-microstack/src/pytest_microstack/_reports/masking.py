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
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    import warnings

MASK = "***"
# Substrings anywhere in the name (PASS covers PASSWORD and PASSWD, AUTH covers
# API_AUTH and AUTHORIZATION), and PWD only after a separator (MYSQL_PWD): the
# shell's own PWD and OLDPWD are the working directory, which every report
# names and which is no secret.
SENSITIVE_KEY = re.compile(r"SECRET|TOKEN|PASS|AUTH|KEY|CREDENTIAL|[_.-]PWD(?![A-Z0-9])", re.IGNORECASE)
# Shorter values are too likely to occur by chance ("1", "true") to be replaced everywhere.
MIN_VALUE_LENGTH = 4
# What ElementTree (pytest's JUnit writer) escapes in an attribute, beyond & < >.
_ATTRIBUTE = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}
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
        self.values: list[str] = []
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        """Mask these values too from now on (a stack's own secrets, once it has started)."""
        # Longest first, so a secret containing another is masked whole.
        wanted = {*self.values, *(v for v in values if len(v) >= MIN_VALUE_LENGTH)}
        self.values = sorted(wanted, key=len, reverse=True)

    def escaped(self) -> Masker:
        """A masker that also knows each value as XML writes it (`&amp;`, `&quot;`): for JUnit files."""
        forms = {form for value in self.values for form in (value, escape(value), escape(value, _ATTRIBUTE))}
        return Masker(forms)

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
        """Mask a pytest report in place: its longrepr (every string in it), its sections,
        an xfail's reason and the values of `record_property`.

        Done in `pytest_runtest_makereport` (and `pytest_make_collect_report` for
        collection errors), before the terminal, JUnit XML or xdist's
        serialisation read it, so all of them see the masked text.
        """
        longrepr = report.longrepr
        if isinstance(longrepr, str | tuple):
            report.longrepr = self._strings(longrepr)
        elif longrepr is not None:
            self._strings(longrepr)
        report.sections = [(title, self.text(content)) for title, content in report.sections]
        if isinstance(getattr(report, "wasxfail", None), str):
            report.wasxfail = self.text(report.wasxfail)
        if getattr(report, "user_properties", None):
            report.user_properties = [(name, self._property(value)) for name, value in report.user_properties]

    def _property(self, value: object) -> object:
        """A `record_property` value: JUnit writes str(value), so one whose text has a secret is masked."""
        if isinstance(value, str):
            return self.text(value)
        text = str(value)
        masked = self.text(text)
        return value if masked == text else masked

    def warning(self, message: warnings.WarningMessage) -> None:
        """Mask a recorded warning in place: its text and the source line shown with it."""
        warning = message.message
        if isinstance(warning, Warning):
            text = str(warning)  # what every report of it shows
            if self.text(text) != text:
                warning.args = (self.text(text),)
        elif isinstance(warning, str):
            message.message = self.text(warning)  # warnings.warn accepts a str too
        if message.line:
            message.line = self.text(message.line)

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


class MaskingFormatter(logging.Formatter):
    """Wraps a log handler's formatter: what it writes (a --log-file, live logs) is masked.

    On the handler, not the record: the same record also reaches `caplog`, whose
    tests may look for the real value.
    """

    def __init__(self, inner: logging.Formatter | None, masker: Masker) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.masker = masker

    def format(self, record: logging.LogRecord) -> str:
        return self.masker.text(self.inner.format(record))


def mask_handler(handler: logging.Handler, masker: Masker) -> None:
    """Mask what `handler` writes from now on; idempotent."""
    if not isinstance(handler.formatter, MaskingFormatter):
        handler.setFormatter(MaskingFormatter(handler.formatter, masker))


class MaskingStream:
    """A text stream that masks what is written to it: pytest's terminal writes through one."""

    def __init__(self, stream: IO[str], masker: Masker) -> None:
        self.stream = stream
        self.masker = masker

    def write(self, text: str) -> int:
        self.stream.write(self.masker.text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding...
        return getattr(self.stream, name)


def mask_file(path: os.PathLike[str] | str, masker: Masker) -> None:
    """Rewrite a UTF-8 file (a JUnit XML) with every secret masked, also in its XML-escaped forms."""
    file = Path(path)
    text = file.read_bytes().decode()
    masked = masker.escaped().text(text)
    if masked != text:
        file.write_bytes(masked.encode())
