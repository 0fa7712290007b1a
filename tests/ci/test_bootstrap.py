"""scripts/bootstrap's functions, run one at a time in bash (the script, sourced, only defines them).

No network, no Docker, no apt: the ownership hand-back runs in a throwaway folder
with a made-up SUDO_UID/SUDO_GID (numeric ids need no user account), and the
package-list age check is given the marker and the time.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

BOOTSTRAP = Path(__file__).resolve().parents[2] / "scripts" / "bootstrap"
APT_LISTS_MAX_AGE = 86400  # the script's own constant: a day
UID, GID = 54321, 54322  # a throwaway user and group: no account needed


def run(function_call: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Source the script, then run one of its functions in `cwd`."""
    script = f'source "{BOOTSTRAP}"; cd "{cwd}"; {function_call}'
    return subprocess.run(
        ["bash", "-c", script], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=30
    )


def checkout(tmp_path: Path) -> Path:
    """What bootstrap writes into a checkout, as root would leave it: .env, .venv, services/wheels."""
    root = tmp_path / "checkout"
    (root / ".venv/bin").mkdir(parents=True)
    (root / ".venv/lib/site.py").parent.mkdir(parents=True)
    (root / ".venv/lib/site.py").write_text("")
    (root / ".venv/bin/python").symlink_to("/usr/bin/env")  # a link out of the checkout: not followed
    (root / "services/wheels").mkdir(parents=True)
    (root / "services/wheels/flask-3.0.0-py3-none-any.whl").write_bytes(b"")
    (root / "services/user-service.py").write_text("")  # the checkout's own file: not bootstrap's
    (root / ".env").write_text("BASE_IMAGE=x\n")
    os.chmod(root / ".env", 0o600)
    return root


def owners(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    paths = [root / ".env", root / ".venv", *(root / ".venv").rglob("*"), *(root / "services").rglob("*")]
    for path in paths:
        stat = path.lstat()
        found[str(path.relative_to(root))] = (stat.st_uid, stat.st_gid)
    return found


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")


@needs_root
def test_under_sudo_what_bootstrap_wrote_goes_to_the_invoking_user(tmp_path: Path) -> None:
    """Issue 18, 9: under sudo .env, .venv and services/wheels stayed root's."""
    root = checkout(tmp_path)
    target_before = os.stat("/usr/bin/env")

    result = run("hand_back_to_invoking_user", root, {"SUDO_UID": str(UID), "SUDO_GID": str(GID)})

    assert result.returncode == 0, result.stderr
    found = owners(root)
    theirs = {path for path, owner in found.items() if owner == (UID, GID)}
    assert theirs == set(found) - {"services", "services/user-service.py"}
    assert found["services/user-service.py"] == (0, 0), "not bootstrap's: left as it was"
    assert (root / ".env").stat().st_mode & 0o777 == 0o600, "still owner-only: it holds a secret"
    target_after = os.stat("/usr/bin/env")
    assert (target_after.st_uid, target_after.st_gid) == (target_before.st_uid, target_before.st_gid)


@needs_root
@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="not-under-sudo"),
        pytest.param({"SUDO_UID": "0", "SUDO_GID": "0"}, id="sudo-from-root"),
        pytest.param({"SUDO_UID": "1000; touch pwned", "SUDO_GID": "1000"}, id="not-a-number"),
    ],
)
def test_without_an_invoking_user_nothing_changes_hands(tmp_path: Path, env: dict[str, str]) -> None:
    root = checkout(tmp_path)
    before = owners(root)
    clean = {"SUDO_UID": "", "SUDO_GID": "", **env}

    result = run("hand_back_to_invoking_user", root, clean)

    assert result.returncode == 0, result.stderr
    assert owners(root) == before
    assert not (root / "pwned").exists()


@needs_root
def test_a_sudo_gid_that_is_missing_falls_back_to_the_uid(tmp_path: Path) -> None:
    root = checkout(tmp_path)

    run("hand_back_to_invoking_user", root, {"SUDO_UID": str(UID), "SUDO_GID": ""})

    assert (root / ".env").stat().st_gid == UID


@pytest.mark.parametrize(
    ("age", "stale"),
    [
        pytest.param(0, False, id="just-updated"),
        pytest.param(APT_LISTS_MAX_AGE - 1, False, id="one-second-short-of-a-day"),
        pytest.param(APT_LISTS_MAX_AGE, True, id="exactly-a-day"),
        pytest.param(APT_LISTS_MAX_AGE + 1, True, id="one-second-past"),
    ],
)
def test_the_package_list_marker_expires_after_a_day(tmp_path: Path, age: int, stale: bool) -> None:
    """Issue 18, 9: the marker never expired, so installs ran on stale lists."""
    marker = tmp_path / ".bootstrap-updated"
    marker.write_text("")
    updated = 1_700_000_000
    os.utime(marker, (updated, updated))

    result = run(f'apt_lists_stale "{marker}" {updated + age}', tmp_path)

    assert result.returncode == (0 if stale else 1), result.stderr


def test_no_marker_means_the_lists_were_never_updated(tmp_path: Path) -> None:
    assert run(f'apt_lists_stale "{tmp_path}/absent" 1700000000', tmp_path).returncode == 0


def test_sourcing_the_script_runs_nothing(tmp_path: Path) -> None:
    result = run("true", tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "no step ran (each one logs)"
    assert list(tmp_path.iterdir()) == []
