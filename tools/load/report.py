"""Write the load run's figures: raw JSON and a Markdown table for BENCHMARKS.md."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One line of the table: a path, how it was driven, and what it did."""

    path: str
    tool: str
    connections: int
    requests: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    server_errors: int
    # CPU milliseconds per request spent in each service's container (wrk rows).
    cpu_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class LoadReport:
    rows: list[Row] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def total_requests(self) -> int:
        return sum(row.requests for row in self.rows)

    def row(self, path: str) -> Row:
        return next(row for row in self.rows if row.path == path)

    def markdown(self) -> str:
        lines = [
            "| path | tool | connections | requests | requests/s | p50 ms | p95 ms | p99 ms | errors | 5xx "
            "| CPU ms/request (user-service + product-service) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for row in self.rows:
            cpu = " + ".join(f"{ms:.2f}" for ms in row.cpu_ms.values()) if row.cpu_ms else ""
            lines.append(
                f"| `{row.path}` | {row.tool} | {row.connections} | {row.requests:,} | "
                f"{row.requests_per_second:,.0f} | {row.p50_ms:.1f} | {row.p95_ms:.1f} | {row.p99_ms:.1f} | "
                f"{row.errors} | {row.server_errors} | {cpu} |"
            )
        lines.append("")
        lines += [f"- {name}: {value}" for name, value in self.context.items()]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        raw, table = directory / "load.json", directory / "load.md"
        raw.write_text(
            json.dumps({"rows": [asdict(row) for row in self.rows], "context": self.context}, indent=2)
        )
        table.write_text(self.markdown())
        return raw, table
