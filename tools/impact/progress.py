"""A study's results so far, one JSON file written after every item, so a later session continues it.

The file names what the results are valid for (the BASE commit and the study's
own parameters): opened with other ones, it starts over rather than mix figures
of two trees. Written whole to a temporary name and renamed, so an interrupted
session leaves the last complete state.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class Progress:
    """`key` (BASE and parameters) plus `done`: item name -> its result, in the order studied."""

    def __init__(self, path: Path, key: Mapping[str, Any]) -> None:
        self.path = path
        self.key = dict(key)
        self.done: dict[str, dict[str, Any]] = {}
        self.extra: dict[str, Any] = {}
        if path.is_file():
            try:
                saved = json.loads(path.read_text())
            except json.JSONDecodeError as error:
                raise SystemExit(
                    f"{path}: not a study's progress ({error}); move it away to start over"
                ) from None
            if saved.get("key") == self.key:
                self.done = dict(saved.get("done", {}))
                self.extra = dict(saved.get("extra", {}))

    def __contains__(self, name: str) -> bool:
        return name in self.done

    def record(self, name: str, result: Mapping[str, Any]) -> None:
        self.done[name] = dict(result)
        self.save()

    def note(self, **values: Any) -> None:
        """Figures of the whole study (e.g. the full suite's time), kept beside the items."""
        self.extra.update(values)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(
            json.dumps({"key": self.key, "extra": self.extra, "done": self.done}, indent=1) + "\n"
        )
        os.replace(temporary, self.path)
