"""The "issue 27" section of BENCHMARKS.md: `--stack-impact` on 30 edits, testmon beside it, and its costs.

Rendered from the JSON the studies write and resume (`python -m tools.impact.edits`
-> bench/results/impact_edits.json; `nox -s impact` -> bench/results/impact_mutants.json),
so the page never disagrees with them. Partial results are shown as partial.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

EDITS = "impact_edits.json"
MUTANTS = "impact_mutants.json"
SHARE_TARGET = 0.25  # median share of integration tests selected
TIME_TARGET = 0.35  # median wall time against the whole suite at -n 2
CONTEXTS_TARGET = 0.20  # what per-test contexts may add to a --stack-coverage run
SELECTION_TARGET = 1.0  # seconds for the selection itself


def _read(path: Path) -> Mapping[str, Any] | None:
    if not path.is_file():
        return None
    document = json.loads(path.read_text())
    return document if isinstance(document, Mapping) else None


def _met(value: float, target: float) -> str:
    return "met" if value <= target else "**missed**"


def _row(cells: Sequence[object]) -> str:
    """One table row: a cell's own newlines (a commit subject's) would end the row, so they are spaces."""
    return "| " + " | ".join(" ".join(str(cell).split()).replace("|", "\\|") for cell in cells) + " |"


def _edits(edits: Mapping[str, Any]) -> list[str]:
    rows: dict[str, Mapping[str, Any]] = edits.get("done", {})
    extra: Mapping[str, Any] = edits.get("extra", {})
    key: Mapping[str, Any] = edits.get("key", {})
    header = ["| figure | value | target | |", "|---|---|---|---|"]
    costs = _costs(extra, rows.values())
    if not rows:
        lines = ["No edit measured yet: `python -m tools.impact.edits` writes them."]
        return [*lines, "", *header, *costs] if costs else lines
    share = statistics.median(row["share"] for row in rows.values())
    ratio = statistics.median(row["ratio"] for row in rows.values())
    missed = sum(len(row["missed"]) for row in rows.values())
    with_testmon = [row for row in rows.values() if "testmon_missed" in row]
    partial = len(rows) < int(key.get("edits", 0))
    lines = [
        f"{len(rows)} of {key.get('edits', '?')} edits measured"
        + (" (partial: the study resumes where it stopped)" if partial else "")
        + f", on BASE `{str(key.get('base', ''))[:12]}`. The edits: {extra.get('source', '')}.",
        "",
        *header,
        _row(
            (
                "median share of integration tests selected",
                f"{share:.0%}",
                f"<= {SHARE_TARGET:.0%}",
                _met(share, SHARE_TARGET),
            )
        ),
        _row(
            (
                "median wall time against the whole suite at -n 2",
                f"{ratio:.2f}x (whole suite {extra.get('whole_seconds', 0):.0f} s)",
                f"<= {TIME_TARGET}x",
                _met(ratio, TIME_TARGET),
            )
        ),
        _row(("failures of the whole suite that the selection missed", missed, "0", _met(missed, 0))),
    ]
    if with_testmon:
        testmon_missed = sum(len(row["testmon_missed"]) for row in with_testmon)
        lines.append(_row(("the same failures pytest-testmon missed", testmon_missed, "(comparison)", "")))
    return [*lines, *costs, "", *_load_line(extra, rows.values()), *_edit_table(rows, bool(with_testmon))]


def _load_line(extra: Mapping[str, Any], rows: Any) -> list[str]:
    """How busy the machine was (2 cores): the timed runs are only as steady as this."""
    loads = [row["load"] for row in rows if "load" in row]
    if not loads:
        return []
    whole = extra.get("whole_load")
    return [
        f"Load average (1 min) as each edit's runs ended: median {statistics.median(loads):.1f}, "
        f"from {min(loads):.1f} to {max(loads):.1f}"
        + (f"; as the whole suite's run ended: {whole:.1f}." if whole is not None else "."),
        "",
    ]


def _costs(extra: Mapping[str, Any], rows: Any) -> list[str]:
    lines: list[str] = []
    with_contexts, without = extra.get("coverage_seconds"), extra.get("coverage_without_contexts_seconds")
    if with_contexts and without:
        added = with_contexts / without - 1
        lines.append(
            _row(
                (
                    "what per-test contexts add to a --stack-coverage run",
                    f"{added:+.0%} ({with_contexts:.0f} s against {without:.0f} s)",
                    f"<= {CONTEXTS_TARGET:.0%}",
                    _met(added, CONTEXTS_TARGET),
                )
            )
        )
    rows = list(rows)
    retimed = [row["selection_retimed"] for row in rows if "selection_retimed" in row]
    timed = [row["selection_seconds"] for row in rows if row.get("selection_seconds") is not None]
    if retimed:  # `--retime-selection`: collection only, nothing else running; the figure the target reads
        medians = [statistics.median(one["seconds"]) for one in retimed]
        loads = [one["load"] for one in retimed]
        lines.append(
            _row(
                (
                    f"the selection itself, timed again by collection only (slowest of {len(medians)}"
                    f" edits, each the median of {len(retimed[0]['seconds'])}; load"
                    f" {min(loads):.1f}-{max(loads):.1f})",
                    f"{max(medians):.2f} s (median {statistics.median(medians):.2f} s)",
                    f"< {SELECTION_TARGET:.0f} s",
                    _met(max(medians), SELECTION_TARGET - 1e-9),
                )
            )
        )
    if timed:
        worst = max(timed)
        lines.append(
            _row(
                (
                    "the selection itself"
                    + (", while the suites ran" if retimed else "")
                    + " (slowest of the edits)",
                    f"{worst:.2f} s (median {statistics.median(timed):.2f} s)",
                    f"< {SELECTION_TARGET:.0f} s",
                    "(under load)" if retimed else _met(worst, SELECTION_TARGET - 1e-9),
                )
            )
        )
    return lines


def _edit_table(rows: Mapping[str, Mapping[str, Any]], with_testmon: bool) -> list[str]:
    header = ["commit undone", "change", "selected", "time", "whole suite's failures", "missed"]
    header += ["testmon selected", "testmon missed"] if with_testmon else []
    header.append("why (the selection's first reason)")
    lines = [_row(header), "|" + "---|" * len(header)]
    for commit, row in rows.items():
        cells: list[object] = [
            f"`{commit}`",
            row.get("subject", "")[:70],
            f"{row['selected']}/{row['total']} ({row['share']:.0%})",
            f"{row['ratio']:.2f}x",
            len(row["failed"]),
            len(row["missed"]),
        ]
        if with_testmon:
            cells += [row.get("testmon_selected", ""), len(row.get("testmon_missed", []))]
        reasons = row.get("reasons") or ["(not recorded)"]
        cells.append(reasons[0][:120])
        lines.append(_row(cells))
    return lines


def _mutants(mutants: Mapping[str, Any]) -> list[str]:
    done: Mapping[str, Mapping[str, Any]] = mutants.get("done", {})
    key: Mapping[str, Any] = mutants.get("key", {})
    outcomes = [row["outcome"] for row in done.values()]
    seconds = [row["seconds"] for row in done.values() if row["outcome"] != "every test selected"]
    escapes = outcomes.count("ESCAPE")
    return [
        f"Mutant study (`nox -s impact`, seed {key.get('seed', '?')}, "
        f"BASE `{str(key.get('base', ''))[:12]}`): "
        f"{len(done)} of {key.get('mutants', '?')} mutants studied, "
        f"{outcomes.count('every test selected')} select every test (the whole suite: no escape possible, "
        "not run), "
        f"{outcomes.count('killed by the selection')} killed by the selection, "
        f"{outcomes.count('survives the whole suite')} survive the whole suite, **{escapes} escapes**"
        + (f"; median {statistics.median(seconds):.0f} s a mutant that ran." if seconds else "."),
    ]


def section(results: Path) -> list[str]:
    """The section's lines (with a leading blank line), whatever of the two JSON files exists."""
    lines = ["", "## Issue 27: `--stack-impact` (tools/impact)", ""]
    edits, mutants = _read(results / EDITS), _read(results / MUTANTS)
    if edits is None and mutants is None:
        return [*lines, f"Not run: there is no `bench/results/{EDITS}` nor `{MUTANTS}`."]
    if edits is not None:
        lines += _edits(edits)
    if mutants is not None:
        lines += ["", *_mutants(mutants)]
    return [
        *lines,
        "",
        "Times are wall-clock on the machine of the run, while other work ran on it: the time ratio "
        "divides runs made minutes apart under the same load; the shares and the missed failures "
        "do not depend on it.",
    ]
