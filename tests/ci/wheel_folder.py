"""A local wheel folder for the lock-install tests: tiny wheels, a hash lock, and newer releases beside it.

It stands in for the package index on the day after a lock was made: `fakecov-plugin`
asks for `fakecov[toml]>=1.0` (as pytest-cov asks for `coverage[toml]>=7.10.6`), the
lock pins `fakecov` 1.0, and a `fakecov` 99.0 has been "published" since. No network:
pip is pointed at the folder alone (PIP_NO_INDEX, PIP_FIND_LINKS) with the machine's
own pip configuration hidden (PIP_CONFIG_FILE=os.devnull).
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

LOCKED = {"fakecov": "1.0", "fakecov-plugin": "1.0"}
PUBLISHED_SINCE = {"fakecov": "99.0"}  # newer than the lock: must never be installed
WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: tests/ci\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m; print(*(f'{d.name}=={d.version}' for d in m.distributions()))"
)


@dataclass(frozen=True)
class WheelFolder:
    folder: Path
    lock: Path
    incomplete_lock: Path  # the plugin without the fakecov it needs

    def pip_env(self) -> dict[str, str]:
        """This process's environment, with pip seeing the folder and nothing else."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
        return {
            **env,
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.folder),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder: Path, name: str, version: str, *, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel that installs a `name` module and declares `requires` and a `toml` extra."""
    module, dist_info = name.replace("-", "_"), f"{name.replace('-', '_')}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Provides-Extra: toml"]
    metadata += [f"Requires-Dist: {requirement}" for requirement in requires]
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist_info}/WHEEL": WHEEL_FILE,
    }
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _pin(wheel: Path, name: str, version: str) -> str:
    return f"{name}=={version} \\\n    --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}\n"


def make_wheel_folder(root: Path) -> WheelFolder:
    """The wheels (locked and newer), the lock as pip-compile writes it, and a lock missing a package."""
    folder = root / "wheels"
    folder.mkdir(parents=True)
    cov = build_wheel(folder, "fakecov", LOCKED["fakecov"])
    plugin = build_wheel(folder, "fakecov-plugin", LOCKED["fakecov-plugin"], requires=("fakecov[toml]>=1.0",))
    build_wheel(folder, "fakecov", PUBLISHED_SINCE["fakecov"])
    lock, incomplete = root / "lock.txt", root / "incomplete-lock.txt"
    lock.write_text(_pin(cov, "fakecov", "1.0") + _pin(plugin, "fakecov-plugin", "1.0"))
    incomplete.write_text(_pin(plugin, "fakecov-plugin", "1.0"))
    return WheelFolder(folder, lock, incomplete)


def installed(python: Path) -> dict[str, str]:
    """name -> version of every distribution in `python`'s environment, read without pip."""
    command = [str(python), "-c", LIST_DISTRIBUTIONS]
    listing = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    return dict(line.split("==", 1) for line in listing.stdout.split())
