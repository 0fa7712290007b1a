"""The documentation site's virtualenv and build, for `nox -s docs` and `nox -s docs_links`.

The site is built as a reader installs the plugin: a fresh virtualenv from
requirements/docs.txt, with the plugin installed from its source, in strict mode.
"""

from __future__ import annotations

from pathlib import Path

import nox

from tools.fresh_venv import fresh_venv, install_lock, pip

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "pytest-microstack"
DOCS_LOCK = ROOT / "requirements" / "docs.txt"
DOCS_CHECKS = ROOT / "docs" / "_tools"
SITE = ROOT / "site"
# mkdocs-material prints a banner about its successor on every build; the build says enough.
QUIET_MKDOCS = {"NO_MKDOCS_2_WARNING": "1"}


def docs_venv(session: nox.Session, version: str) -> Path:
    """A fresh virtualenv from requirements/docs.txt with the plugin installed from its source
    (as a reader installs it); returns its python."""
    python = fresh_venv(session, version)
    install_lock(session, python, DOCS_LOCK)
    pip(session, python, "install", "-q", "--no-deps", "--no-build-isolation", str(ROOT / PLUGIN))
    pip(session, python, "check")
    return python


def build_site(session: nox.Session, python: Path) -> None:
    """mkdocs build --strict into site/: a broken link or a missing reference fails it."""
    build = ["-m", "mkdocs", "build", "--strict", "--site-dir", str(SITE)]
    session.run(str(python), *build, external=True, env=QUIET_MKDOCS)


def build_and_check(session: nox.Session, version: str) -> None:
    """Build the site, then run docs/_tools' checks (every example, every reference entry);
    with `serve` as the first argument, serve it on 127.0.0.1:8000 instead."""
    python = docs_venv(session, version)
    if session.posargs[:1] == ["serve"]:
        serve = ["-m", "mkdocs", "serve", "--strict", "-a", "127.0.0.1:8000"]
        session.run(str(python), *serve, external=True, env=QUIET_MKDOCS)
        return
    build_site(session, python)
    checks = ["-m", "pytest", "-p", "no:cacheprovider", "-c", str(DOCS_CHECKS / "pytest.ini")]
    session.run(str(python), *checks, str(DOCS_CHECKS), *session.posargs, external=True)


def check_links(session: nox.Session, version: str) -> None:
    """Build the site and fetch each of its external links."""
    python = docs_venv(session, version)
    build_site(session, python)
    session.run(str(python), str(DOCS_CHECKS / "check_links.py"), str(SITE), external=True)
