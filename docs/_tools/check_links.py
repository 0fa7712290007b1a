"""Check the built site's external links: `python docs/_tools/check_links.py site/`.

Not in the default run (it needs the network and the linked sites' goodwill): the
canary workflow runs it weekly through `nox -s docs_links`. Internal links are
checked by every build (mkdocs --strict). Exits 1 naming every link that failed.
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

HREF = re.compile(r'href="(https?://[^"#]+)')
TIMEOUT = 15.0  # seconds per request
# Our own site is where this build will be published: not there before its first deploy.
SKIPPED = ("https://microstack-dev.github.io/microstack/",)
HEADERS = {"User-Agent": "pytest-microstack docs link check"}


def external_links(site: Path) -> dict[str, set[str]]:
    """Each external URL of the built pages -> the pages that link to it."""
    found: dict[str, set[str]] = {}
    for page in sorted(site.rglob("*.html")):
        for url in HREF.findall(page.read_text(errors="replace")):
            if not url.startswith(SKIPPED):
                found.setdefault(url, set()).add(str(page.relative_to(site)))
    return found


def problem(url: str) -> str | None:
    """None when `url` answers below 400 (HEAD, else GET); else what went wrong."""
    try:
        with requests.Session() as session:
            answer = session.head(url, timeout=TIMEOUT, allow_redirects=True, headers=HEADERS)
            if answer.status_code >= 400:  # some servers refuse HEAD
                answer = session.get(url, timeout=TIMEOUT, allow_redirects=True, headers=HEADERS, stream=True)
                answer.close()
    except requests.RequestException as error:
        return f"{type(error).__name__}: {error}"
    return None if answer.status_code < 400 else f"HTTP {answer.status_code}"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: check_links.py SITE_DIR (a built site: mkdocs build)", file=sys.stderr)
        return 2
    links = external_links(Path(argv[0]))
    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = dict(zip(links, pool.map(problem, links), strict=True))
    failed = {url: text for url, text in problems.items() if text}
    for url, text in sorted(failed.items()):
        print(f"{url}: {text} (in {', '.join(sorted(links[url]))})")
    print(f"{len(links)} external links, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
