"""The files are checked with the twine that will upload them (issue 23, 3).

release.yml pinned pypa/gh-action-pypi-publish v1.8.14, whose twine 5.0.0 and pkginfo
1.10.0 refuse Metadata-Version 2.4, while `nox -s package` checked with twine 7: the
check could not see the upload fail. requirements/publish-action.toml records what
each release of the action bundles; these tests fail when release.yml's pin, that
table and requirements/publish-check.txt (what `nox -s package` checks with) drift apart.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import noxfile

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
PIN = re.compile(r"uses: pypa/gh-action-pypi-publish@(?P<commit>[0-9a-f]{40}) # (?P<tag>v[0-9.]+)$", re.M)
# What reads the metadata: twine, and before twine 6.1, pkginfo.
METADATA_READERS = {"twine", "pkginfo"}


def releases() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((REQUIREMENTS / "publish-action.toml").read_text())["releases"]
    return table


def pins(lock_or_in: Path) -> dict[str, str]:
    """name -> version of every `name==version` line (a pip-compile output or its input)."""
    found = re.findall(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", lock_or_in.read_text(), re.M)
    return {name.lower(): version for name, version in found}


def release_yml_pin() -> tuple[str, str]:
    [pin] = PIN.finditer((ROOT / ".github/workflows/release.yml").read_text())
    return pin["commit"], pin["tag"]


def test_release_yml_pins_a_release_the_table_knows_by_its_commit() -> None:
    commit, tag = release_yml_pin()

    assert tag in releases(), f"record what {tag} bundles in requirements/publish-action.toml"
    assert releases()[tag]["commit"] == commit


def test_the_check_lock_pins_what_the_pinned_action_bundles() -> None:
    bundled = releases()[release_yml_pin()[1]]["bundles"]
    locked = pins(REQUIREMENTS / "publish-check.txt")

    assert {name: locked.get(name) for name in bundled} == bundled
    assert {name: locked[name] for name in METADATA_READERS & set(locked)} == {
        name: bundled[name] for name in METADATA_READERS & set(locked)
    }, "no metadata reader the action doesn't bundle"


def test_the_check_lock_s_input_names_the_same_versions() -> None:
    """Recompiling publish-check.in gives the same lock: its pins are the table's."""
    bundled = releases()[release_yml_pin()[1]]["bundles"]

    assert pins(REQUIREMENTS / "publish-check.in") == bundled


def test_the_former_pin_is_recorded_with_the_twine_that_refused_metadata_2_4() -> None:
    assert releases()["v1.8.14"]["bundles"] == {"twine": "5.0.0", "pkginfo": "1.10.0"}
    assert release_yml_pin()[1] != "v1.8.14"


def test_nox_s_package_checks_with_that_lock() -> None:
    assert noxfile.PUBLISH_CHECK_LOCK == REQUIREMENTS / "publish-check.txt"
