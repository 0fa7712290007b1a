"""Every example on the site and in the plugin's docstrings runs, or is checked as far as it can be.

- A Python block is linted with ruff and run (pytest-examples); its `#>` lines are
  the output it must print. It runs in a folder holding the page's own `pytest.ini`
  and `pyproject.toml` blocks, so an example that reads the configuration reads the
  one shown above it.
- A Python block that needs a running stack says so on its first line,
  `# illustrative: ...`: it is compiled and linted, not run.
- A block included from a repository file (`--8<--`) is that file: the tutorial's
  project runs against the engine in `nox -s plugin`, and ruff checks its code.
- ini, TOML and YAML blocks must parse; shell blocks must pass `bash -n`.
"""

from __future__ import annotations

import configparser
import re
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pytest_examples import CodeExample, EvalExample, find_examples

REPOSITORY = Path(__file__).resolve().parents[2]
DOCS = REPOSITORY / "docs"
PUBLIC_SOURCE = REPOSITORY / "pytest-microstack" / "src" / "pytest_microstack"
ILLUSTRATIVE = "# illustrative"
INCLUDE = "--8<--"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```$", re.M | re.S)
CHECKED_LANGUAGES = {"ini", "toml", "yaml", "sh"}
KNOWN_LANGUAGES = {"python", "py", "text", "dockerfile", *CHECKED_LANGUAGES}


def pages() -> list[Path]:
    """The site's pages, and the package page (the README on the index) with its quick start."""
    site = sorted(path for path in DOCS.rglob("*.md") if "_tools" not in path.parts)
    return [*site, REPOSITORY / "pytest-microstack" / "README.md"]


def python_examples() -> Iterator[CodeExample]:
    for example in find_examples(*map(str, pages()), str(PUBLIC_SOURCE)):
        if INCLUDE not in example.source:
            yield example


@dataclass(frozen=True)
class Block:
    """A fenced block that is not Python: its page, line and language."""

    page: Path
    line: int
    lang: str
    body: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(REPOSITORY)}:{self.line}:{self.lang}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    return [
        Block(page, text[: match.start()].count("\n") + 1, match["lang"], match["body"])
        for match in FENCE.finditer(text)
    ]


def other_blocks() -> list[Block]:
    return [
        block
        for page in pages()
        for block in blocks(page)
        if block.lang in CHECKED_LANGUAGES and INCLUDE not in block.body
    ]


def page_configuration(page: Path, folder: Path) -> None:
    """Write the page's pytest.ini and pyproject.toml blocks into `folder`."""
    for block in blocks(page):
        if block.lang == "ini" and block.body.lstrip().startswith("[pytest]"):
            (folder / "pytest.ini").write_text(block.body)
        elif block.lang == "toml" and block.body.lstrip().startswith("[tool.pytest.ini_options]"):
            (folder / "pyproject.toml").write_text(block.body)


@pytest.fixture
def eval_example_configured(eval_example: EvalExample) -> EvalExample:
    """pytest-examples with the repository's own ruff settings (pyproject.toml's [tool.ruff])."""
    eval_example.set_config(line_length=110, target_version="py310", ruff_ignore=["T201"])
    return eval_example


@pytest.mark.parametrize("example", list(python_examples()), ids=str)
def test_python_example(
    example: CodeExample,
    eval_example_configured: EvalExample,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compile(example.source, str(example.path), "exec")
    eval_example_configured.lint_ruff(example)
    if example.source.lstrip().startswith(ILLUSTRATIVE):
        return
    page_configuration(example.path, tmp_path)
    monkeypatch.chdir(tmp_path)
    eval_example_configured.run_print_check(example)


@pytest.mark.parametrize("block", other_blocks(), ids=str)
def test_block_parses(block: Block) -> None:
    if block.lang == "ini":
        configparser.ConfigParser(interpolation=None).read_string(block.body)
    elif block.lang == "toml":
        tomllib.loads(block.body)
    elif block.lang == "yaml":
        list(yaml.safe_load_all(block.body))
    elif block.lang == "sh":
        checked = subprocess.run(
            ["bash", "-n"], input=block.body, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr


def test_every_block_names_a_language_the_checks_know() -> None:
    """A block without a language (or with a new one) would escape every check above."""
    unknown = [str(block) for page in pages() for block in blocks(page) if block.lang not in KNOWN_LANGUAGES]

    assert unknown == []


def test_the_checks_find_the_examples() -> None:
    """Guards the finders themselves: the site has runnable, illustrative and config examples."""
    examples = list(python_examples())
    run = [e for e in examples if not e.source.lstrip().startswith(ILLUSTRATIVE)]

    assert len(run) >= 2
    assert len(examples) > len(run)
    assert {block.lang for block in other_blocks()} == CHECKED_LANGUAGES
