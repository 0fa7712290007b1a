"""Generate BENCHMARKS.md from one run's JSON (and the load run's, if there is one).

python -m bench.report                  # bench/results/bench.json -> BENCHMARKS.md
python -m bench.report --json X --out Y

Ratios and targets are computed here from the figures' medians, so the page
never disagrees with the JSON it was made from. Prose that is not a figure
(what was tried and dropped, why) lives in bench/notes.md and is copied in.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .children import ROOT
from .impact_figures import section as impact_section
from .targets import Verdict, exchanges_targets, ratios, targets
from .timing import COUNT, MEGABYTES, MILLISECONDS, PER_SECOND, PERCENT_CORE, YES_NO

PROG = "python -m bench.report"
RESULTS = ROOT / "bench" / "results"
DEFAULT_JSON = RESULTS / "bench.json"
DEFAULT_LOAD = RESULTS / "load.json"
DEFAULT_SOAK = RESULTS / "soak.json"
DEFAULT_NOTES = ROOT / "bench" / "notes.md"
DEFAULT_OUT = ROOT / "BENCHMARKS.md"
GROUPS = {
    "start-up": "Start-up: the floor, compose and the harness",
    "sessions": "Whole sessions",
    "exit": "From the last test to the process exit",
    "imports": "A unit run with the plugin loaded",
    "builds": "Image builds",
    "faults": "Faults (user-service)",
    "robustness": "Ctrl-C during start-up",
    "idle": "Idle CPU",
    "exchanges": "The recording proxies (issue 26)",
}


def format_value(value: float | None, unit: str) -> str:
    """A sample or summary as the page shows it, with its unit."""
    if value is None:
        return ""
    if unit == YES_NO:
        return "yes" if value >= 0.5 else "no"
    if unit == COUNT:
        return f"{value:g}"
    if unit == PERCENT_CORE:
        return f"{value:.1f} %"
    if unit == MILLISECONDS:
        return f"{value:.3f} ms"
    if unit == MEGABYTES:
        return f"{value:.1f} MB"
    if unit == PER_SECOND:
        return f"{value:.0f} req/s"
    return f"{value:.3f} s" if abs(value) < 10 else f"{value:.1f} s"


def medians(figures: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Figure key -> median, for every figure with samples."""
    return {f["key"]: f["median"] for f in figures if f.get("median") is not None}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _header(data: Mapping[str, Any]) -> list[str]:
    m: Mapping[str, str] = data.get("machine", {})
    options: Mapping[str, Any] = data.get("options", {})
    rows = [
        ("date", m.get("date", "")),
        ("commit", m.get("commit", "")),
        ("Docker Engine", m.get("docker_engine", "")),
        ("Compose", m.get("compose", "")),
        (
            "machine",
            f"{m.get('cpus', '?')} CPUs ({m.get('cpu_model', '')}), {m.get('memory', '?')} memory, "
            f"{m.get('os', '')}, kernel {m.get('kernel', '')}",
        ),
        (
            "versions",
            f"Python {m.get('python', '')}, pytest {m.get('pytest', '')}, Testcontainers "
            f"{m.get('testcontainers', '')}, docker-py {m.get('docker_py', '')}, pytest-microstack "
            f"{m.get('pytest_microstack', '')}",
        ),
        (
            "load average (1, 5, 15 min)",
            f"{m.get('load_average_at_start', '')} at the start, "
            f"{m.get('load_average_at_end', '')} at the end",
        ),
        ("runs", options.get("runs_text", "")),
    ]
    if m.get("environment"):
        rows.append(("set in the environment", m["environment"]))
    return _table(("", ""), rows)


def _figure_rows(figures: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    previous = None
    for f in figures:
        unit = f["unit"]
        title = f["title"] + (f" — {f['note']}" if f.get("note") else "")
        if f.get("resolution"):
            title += f"; resolution: {f['resolution']}"
        command = "the same as above" if f["command"] == previous else f"`{f['command']}`"
        previous = f["command"]
        rows.append(
            [
                title,
                format_value(f.get("min"), unit),
                f"**{format_value(f.get('median'), unit)}**",
                format_value(f.get("max"), unit),
                str(f.get("n", 0)),
                command,
            ]
        )
    return rows


def _figures(figures: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    known = [*GROUPS, *sorted({f["group"] for f in figures} - set(GROUPS))]
    for group in known:
        members = [f for f in figures if f["group"] == group]
        if not members:
            continue
        lines += ["", f"### {GROUPS.get(group, group)}", ""]
        lines += _table(("figure", "min", "median", "max", "n", "command"), _figure_rows(members))
    return lines


def verdict_table(verdicts: Iterable[Verdict]) -> list[str]:
    """Targets as a table: what each asks, what was measured, and "met" or its gap (in bold)."""
    rows = [(v.target, v.measured, f"**{v.verdict}**" if v.met is False else v.verdict) for v in verdicts]
    return _table(("target", "measured (medians)", ""), rows)


def default_recording(verdicts: Iterable[Verdict]) -> str:
    """What issue 26's rule makes of its costs: recording is on by default only if every bound holds."""
    missed = [verdict.target for verdict in verdicts if verdict.met is not True]
    if not missed:
        return "Every bound holds: the recording may be on by default."
    return (
        f"{len(missed)} bound(s) not met, so the recording is not on by default: `stack_exchanges = auto` "
        "(the default) records only for a run whose selected tests use `doubles`; `true` or "
        "`--stack-exchanges` records every run (this repository's pytest.ini does)."
    )


def _targets(by_key: Mapping[str, float], load: Any) -> list[str]:
    return verdict_table(targets(by_key, load))


def _ratios(by_key: Mapping[str, float]) -> list[str]:
    if not ratios(by_key):
        return ["None: no ratio had both of its figures measured."]
    return _table(
        ("ratio (medians, same run)", "value"), [(n, f"{v:.2f}") for n, v in ratios(by_key).items()]
    )


def _shown_path(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _load_section(load: Any, path: Path) -> list[str]:
    """The load run's table, from whatever shape its JSON has: rows of dicts, or key/value pairs."""
    lines = ["", "## Load (`nox -s load`)", ""]
    if load is None:
        return [*lines, f"Not run: there is no `{_shown_path(path)}`. `nox -s load` writes it."]
    if isinstance(load, Mapping):
        for key in ("date", "command", "machine"):
            if key in load and not isinstance(load[key], Mapping | list):
                lines.append(f"{key}: `{load[key]}`  ")
        rows = next((load[k] for k in ("figures", "results", "rows") if isinstance(load.get(k), list)), None)
    else:
        rows = load if isinstance(load, list) else None
    if lines[-1]:
        lines.append("")
    if rows and all(isinstance(row, Mapping) for row in rows):
        columns = [c for c in dict.fromkeys(c for row in rows for c in row) if c != "samples"]
        lines += _table(columns, [[_plain(row.get(c)) for c in columns] for row in rows])
    elif isinstance(load, Mapping):
        lines += _table(("key", "value"), [(str(k), _plain(v)) for k, v in load.items()])
    else:
        lines += ["```json", json.dumps(load, indent=2), "```"]
    return [*lines, "", f"From `{_shown_path(path)}`, as the load run wrote it."]


def _soak_section(soak: Any, path: Path) -> list[str]:
    """The last soak run's table (`nox -s soak`), as it printed it."""
    lines = ["", "## Soak (`nox -s soak`)", ""]
    if not isinstance(soak, Mapping) or "table" not in soak:
        return [*lines, f"Not run: there is no `{_shown_path(path)}`. `nox -s soak` writes it."]
    lines += [f"Seed `{soak.get('seed')}`, {soak.get('minutes')} min; engine and machine in the JSON.", ""]
    return [*lines, str(soak["table"]).strip(), "", f"From `{_shown_path(path)}`, as the soak run wrote it."]


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def render(data: Mapping[str, Any], load: Any, load_path: Path, notes: str | None) -> str:
    """The whole page."""
    figures: Sequence[Mapping[str, Any]] = data.get("figures", [])
    by_key = medians(figures)
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m bench.report` from bench/results/bench.json; edit bench/notes.md "
        "or the generator, not this file. -->",
        "",
        "Reproduce: `scripts/bootstrap && .venv/bin/nox -s bench` (writes `bench/results/bench.json` "
        "and this page; `-- --runs N`, `-- --skip a,b` or `-- --only a,b` to shorten). From the JSON "
        "alone: `.venv/bin/python -m bench.report`. Figures are benchmarks, never timed tests.",
        "",
        *_header(data),
        "",
        "Every command runs from the repository root (`python` is `.venv/bin/python`), with `CI` unset "
        "unless a figure says CI=true. Times are wall-clock; min / median / max over n runs; the "
        "ratios and targets use the medians of this one run.",
        "",
        "## Targets (issue 19)",
        "",
        "The cross-service target comes from the load run below (`nox -s load`), the others from this run.",
        "",
        *_targets(by_key, load),
        "",
        "## Targets (issue 26)",
        "",
        "The costs of recording the exchanges: each compares the same measurement with the recording on "
        "(`--stack-exchanges`) and off (`--no-stack-exchanges`), side by side in this run; how each is "
        "taken is under Notes.",
        "",
        *verdict_table(exchanges_targets(by_key)),
        "",
        default_recording(exchanges_targets(by_key)),
        "",
        "## Figures",
        *_figures(figures),
        "",
        "## Ratios",
        "",
        *_ratios(by_key),
    ]
    missing = {
        **{step: "skipped" for step in data.get("options", {}).get("skipped", [])},
        **data.get("errors", {}),
    }
    if missing:
        lines += ["", "## Not measured in this run", ""]
        lines += [f"- `{step}`: {_cell(str(why))[:500]}" for step, why in missing.items()]
    lines += _load_section(load, load_path)
    lines += _soak_section(_read_json(DEFAULT_SOAK), DEFAULT_SOAK)
    lines += impact_section(RESULTS)
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    return "\n".join(lines) + "\n"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def write(
    json_path: Path, out: Path, load_path: Path = DEFAULT_LOAD, notes_path: Path = DEFAULT_NOTES
) -> None:
    """Regenerate `out` from `json_path` (plus the load JSON and the notes, where they exist)."""
    data = _read_json(json_path)
    if data is None:
        raise SystemExit(f"no benchmark results at {json_path}: run `nox -s bench` first")
    notes = notes_path.read_text() if notes_path.is_file() else None
    out.write_text(render(data, _read_json(load_path), load_path, notes))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="the benchmark run's JSON")
    parser.add_argument("--load", type=Path, default=DEFAULT_LOAD, help="the load run's JSON, if any")
    parser.add_argument("--notes", type=Path, default=DEFAULT_NOTES, help="prose copied under Notes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the page to write")
    args = parser.parse_args()
    write(args.json, args.out, args.load, args.notes)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
