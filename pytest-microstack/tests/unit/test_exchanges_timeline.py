"""The run timeline: one self-contained page, loaded in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pytest_microstack._exchanges.records import Exchange
from pytest_microstack._exchanges.timeline import CallSpan, ServiceSpan, Timeline, render

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
if CHROMIUM is None and os.environ.get("MICROSTACK_REQUIRE_BROWSER"):
    raise RuntimeError("MICROSTACK_REQUIRE_BROWSER is set and no chromium is installed")
CALL = Exchange("user-service", "product-service", "GET", "/users/authenticate", 200, 101.0, 3.1)


def timeline() -> Timeline:
    return Timeline(
        "run abc (main)",
        ["user-service", "product-service"],
        tests=[
            CallSpan("tests/test_a.py::test_passes", 100.0, 100.5, "passed"),
            CallSpan("tests/test_b.py::test_fails", 100.8, 101.5, "failed"),
        ],
        spans=[
            ServiceSpan("user-service", "starting", 95.0, 99.0),
            ServiceSpan("user-service", "down", 101.2, 101.4),
        ],
        exchanges=[
            Exchange("user-service", "tests", "GET", "/health", 200, 100.1, 1.0),
            CALL,
            Exchange("product-service", "tests", "GET", "/products/validate-user", 502, 100.9, 9.0),
        ],
        logs={"user-service": ["2026-12-07T10:00:00Z started"], "product-service": []},
    )


def test_the_page_needs_no_network_and_carries_its_data() -> None:
    page = render(timeline())
    assert "default-src 'none'" in page  # nothing may be fetched
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)
    hostile = render(Timeline("x", ["</script><script>alert(1)"]))
    assert hostile.count("</script>") == page.count("</script>")  # data can't end its script element


def dump_dom(page: Path, fragment: str = "") -> str:
    """The page's DOM after its scripts ran, as headless chromium sees it."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--user-data-dir=" + str(page.parent / "profile"), "--dump-dom", page.as_uri() + fragment],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt-get install chromium")
def test_the_page_loads_without_errors_with_a_row_per_service_in_a_real_browser(tmp_path: Path) -> None:
    page = tmp_path / "timeline.html"
    page.write_text(render(timeline()))

    dom = dump_dom(page)

    assert 'data-drawn="yes"' in dom
    assert re.search(r'<div id="errors"></div>', dom), "script errors: " + dom.split('id="errors"')[1][:500]
    assert 'data-service="user-service"' in dom
    assert 'data-service="product-service"' in dom
    assert 'data-lane="product-service → user-service"' in dom
    assert dom.count('class="bar failed"') == 1


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt-get install chromium")
def test_clicking_a_failing_test_shows_its_exchanges(tmp_path: Path) -> None:
    page = tmp_path / "timeline.html"
    page.write_text(render(timeline()))

    dom = dump_dom(page, "#click-first-failed")

    details = html.unescape(dom.split('<div id="details">', 1)[1].split("</div>", 1)[0])
    assert details.startswith("tests/test_b.py::test_fails  failed")
    assert CALL.line() in details
    assert "/health" not in details  # before the test began
