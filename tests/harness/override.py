"""The compose file the harness adds on top of the project's own for a test run."""

from __future__ import annotations

import json
from typing import Any


def harness_override(config: dict[str, Any], labels: dict[str, str]) -> str:
    """YAML that labels every container, network and volume with its owner.

    It also drops `depends_on` so that services which only need each other per
    request start at the same time: the harness waits on each health endpoint
    itself, so compose has nothing to serialise.
    """
    label_lines = [f"      {key}: {json.dumps(value)}" for key, value in sorted(labels.items())]
    lines = ["# Written by the test harness for one test run; not for editing.", "services:"]
    for name, service in config.get("services", {}).items():
        lines += [f"  {name}:", "    labels:", *label_lines]
        if service.get("depends_on"):
            lines.append("    depends_on: !reset {}")
    for section in ("networks", "volumes"):
        owned = [name for name, spec in config.get(section, {}).items() if not (spec or {}).get("external")]
        if owned:
            lines.append(f"{section}:")
            for name in owned:
                lines += [f"  {name}:", "    labels:", *label_lines]
    return "\n".join(lines) + "\n"
