"""Run the attack scripts, each against a fresh local gunicorn of user-service; print their figures.

`nox -s attacks [-- LETTER... ] [--app-src CHECKOUT]`: see README.md here for the
convention. --app-src runs the server from another checkout's source (e.g. main's,
exported with `git archive`), to measure the same attack before a fix.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]
#: gunicorn imports the app and forks 2 workers: seconds, plus margin for a loaded machine.
BOOT_DEADLINE_SECONDS = 60.0
#: No script may run longer; each has a (shorter) deadline of its own.
SCRIPT_TIMEOUT_SECONDS = 30 * 60
#: Settings the runner sets; everything else is the service's default.
SERVICE_SETTINGS = ("SECRET_KEY", "DATABASE_PATH", "LOG_LEVEL", "GUNICORN_WORKERS", "GUNICORN_THREADS")


def scripts(letters: list[str]) -> list[Path]:
    """The attack scripts, in letter order; only those whose letter is given, if any are."""
    found = sorted(HERE.glob("attack_*_*.py"))
    chosen = [path for path in found if not letters or path.name.split("_")[1] in letters]
    if letters and len(chosen) != len(set(letters)):
        raise SystemExit(f"no attack script for some of {letters}; there are {[p.name for p in found]}")
    return chosen


def server_env(script: Path) -> dict[str, str]:
    """The script's SERVER_ENV (settings beyond the defaults), read by importing it."""
    spec = importlib.util.spec_from_file_location(script.stem, script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HERE))
    sys.modules[spec.name] = module  # as `python script.py` has it: dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(HERE))
        del sys.modules[spec.name]
    return dict(getattr(module, "SERVER_ENV", {}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def gunicorn(app_src: Path, extra: dict[str, str], folder: Path) -> Iterator[str]:
    """user-service from app_src under gunicorn on 127.0.0.1 (a free port); yields its base URL."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("GUNICORN_", "LOGIN_"))}
    for name in SERVICE_SETTINGS:
        env.pop(name, None)
    services = app_src / "services"
    env.update(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_PATH": str(folder / "users.db"),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(
                [str(services / "user-service" / "src"), str(services / "servicekit" / "src")]
            ),
            **extra,
        }
    )
    conf = services / "user-service" / "gunicorn.conf.py"
    command = [sys.executable, "-m", "gunicorn", "-c", str(conf), "--bind", f"127.0.0.1:{port}"]
    log = (folder / "gunicorn.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + BOOT_DEADLINE_SECONDS
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "gunicorn.log").read_text(errors="replace")[-2000:]
                raise SystemExit(
                    f"gunicorn on 127.0.0.1:{port} not healthy in {BOOT_DEADLINE_SECONDS}s:\n{tail}"
                )
            time.sleep(0.1)  # polling /health under the deadline above
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def run(script: Path, app_src: Path) -> dict[str, object]:
    """One script against its own fresh server; its figures (or why it has none)."""
    with (
        tempfile.TemporaryDirectory(prefix=f"{script.stem}-") as tmp,
        gunicorn(app_src, server_env(script), Path(tmp)) as base_url,
    ):
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, str(script), "--base-url", base_url],
                capture_output=True,
                text=True,
                timeout=SCRIPT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"passed": False, "error": f"killed after {SCRIPT_TIMEOUT_SECONDS}s"}
        lines = done.stdout.strip().splitlines()
        try:
            figures: dict[str, object] = json.loads(lines[-1])
        except (IndexError, ValueError):
            return {"passed": False, "error": f"no figures (exit {done.returncode}): {done.stderr[-500:]}"}
        figures["seconds"] = round(time.monotonic() - started, 1)
        return figures


def table(results: dict[str, dict[str, object]]) -> str:
    """One row per script: its name, then each figure as name=value."""
    rows = []
    for name, figures in results.items():
        verdict = "PASS" if figures.get("passed") else "FAIL"
        cells = ", ".join(f"{key}={value}" for key, value in figures.items() if key != "passed")
        rows.append(f"{verdict}  {name:<32} {cells}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("letters", nargs="*", help="only these attacks (a, b, ...)")
    parser.add_argument("--app-src", type=Path, default=CHECKOUT, help="checkout whose services/ to serve")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, object]] = {}
    for script in scripts(args.letters):
        print(f"attacks: running {script.name} against {args.app_src} ...", flush=True)  # noqa: T201
        results[script.stem] = run(script, args.app_src.resolve())
        print(table({script.stem: results[script.stem]}), flush=True)  # noqa: T201
    print("\n" + table(results))  # noqa: T201 - the session's output
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(figures.get("passed") for figures in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
