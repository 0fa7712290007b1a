"""tools.release.changelog_section: the GitHub release's notes are the CHANGELOG's section for the tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.release import changelog_section

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "pytest-microstack"
CHANGELOG = """# Changelog

## [Unreleased]

## [1.1.0] - 2027-01-02

### Added

- One thing.

## [1.0.0] - 2026-12-03

### Changed

- Another.

[Unreleased]: https://example.invalid/compare/v1.1.0...HEAD
[1.1.0]: https://example.invalid/releases/tag/v1.1.0
"""


def test_the_section_runs_to_the_next_heading() -> None:
    assert changelog_section(CHANGELOG, "1.1.0") == "### Added\n\n- One thing.\n"


def test_the_last_section_stops_before_the_link_definitions() -> None:
    assert changelog_section(CHANGELOG, "1.0.0") == "### Changed\n\n- Another.\n"


@pytest.mark.parametrize(
    ("version", "message"),
    [
        pytest.param("1.2.0", r"no section ## \[1\.2\.0\]", id="missing"),
        pytest.param("1.0", r"no section ## \[1\.0\]", id="a-prefix-of-a-version"),
        pytest.param("Unreleased", r"section ## \[Unreleased\] is empty", id="empty"),
    ],
)
def test_a_version_without_notes_is_refused(version: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        changelog_section(CHANGELOG, version)


def test_the_plugin_s_changelog_has_notes_for_its_version() -> None:
    init = (ROOT / PLUGIN / "src" / "pytest_microstack" / "__init__.py").read_text()
    version = init.split('__version__ = "', 1)[1].split('"', 1)[0]

    assert "### " in changelog_section((ROOT / PLUGIN / "CHANGELOG.md").read_text(), version)
