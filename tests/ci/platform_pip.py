"""The oldest pip that a supported platform's `python3 -m venv` gives, found on this machine's disk.

Supported platforms and the pip their `python3 -m venv` seeds: Ubuntu 22.04, 22.0.2;
Debian 12, 23.0.1 (the README's set-up is for Debian and Ubuntu). Every pip before
23.3 resolves an extra (`coverage[toml]>=7.10.6`) against the newest release instead
of the locked one, and refuses it in hash mode: the failure of issue 23.

No download: the wheels searched are ones a fresh machine of either kind already has.
- /usr/share/python-wheels/pip-*.whl: Debian's and Ubuntu's python3-pip-whl, exactly
  what their `python3 -m venv` installs (23.0.1 on Debian 12, this CI image).
- the `ensurepip` bundles of the other Pythons present: pyenv's (this image: 3.7 and
  3.8 carry 22.0.4, the nearest release to Ubuntu 22.04's 22.0.2) and the GitHub
  runners' tool cache (RUNNER_TOOL_CACHE: its 3.9 and 3.10 carry 23.0.1).
Only releases from 22.0 on are taken (older ones predate every supported platform),
the oldest wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from packaging.version import Version

OLDEST_SUPPORTED = Version("22.0")  # Ubuntu 22.04's python3-pip-whl is 22.0.2
EXTRAS_FIXED = Version("23.3")  # the first pip that keeps an extra to the pinned release


def _places() -> list[Path]:
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    tool_cache = Path(os.environ.get("RUNNER_TOOL_CACHE", "/opt/hostedtoolcache"))
    bundles = "lib/python3*/ensurepip/_bundled/pip-*-py3-none-any.whl"
    return [
        *Path("/usr/share/python-wheels").glob("pip-*-py3-none-any.whl"),
        *pyenv.glob(f"versions/*/{bundles}"),
        *tool_cache.glob(f"Python/*/*/{bundles}"),
    ]


def _version(wheel: Path) -> Version:
    return Version(wheel.name.split("-")[1])


def oldest_platform_pip() -> Path:
    """The oldest pip wheel found from 22.0 on; AssertionError (never a skip) when there is none."""
    found = sorted((path for path in _places() if _version(path) >= OLDEST_SUPPORTED), key=_version)
    assert found, (
        "no pip wheel from 22.0 on in /usr/share/python-wheels (apt-get install python3-pip-whl), "
        "$PYENV_ROOT/versions/*/lib/python3*/ensurepip/_bundled or $RUNNER_TOOL_CACHE/Python"
    )
    return found[0]
