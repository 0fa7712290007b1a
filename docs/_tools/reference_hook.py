"""mkdocs hook: the reference tables, generated from the plugin's own definitions so they can't drift.

A page asks for a table with a line `<!-- reference: NAME -->`; NAME is one of
TABLES. The ini keys and command-line options are read by running the plugin's
own `pytest_addoption` against a recorder, the fixtures from the source of
`_session/fixtures.py` (scope, autouse and docstring), the markers and the hook
from `plugin.py`. Environment variables are read in several modules, so their
descriptions live here, in ENVIRONMENT; a check (docs/_tools/test_reference.py)
fails when the plugin reads a variable this table lacks.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- reference: ([a-z]+) -->$", re.M)

# Variable -> (default, what it does). Every variable the plugin reads.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "STACK_TIMEOUT": (
        "unset",
        "seconds for the whole stack to become ready; beats the ini key `stack_timeout`, "
        "loses to `--stack-timeout`",
    ),
    "STACK_ENGINES": (
        "unset",
        "engines to spread the xdist workers over, comma- or space-separated, as `DOCKER_HOST` names them; "
        "beats the ini key `stack_engines`, loses to `--stack-engines` "
        "([a pool of engines](../how-to/engine-pool.md))",
    ),
    "CI": (
        "unset",
        "set (to anything non-empty): the run waits for its stacks' removal instead of leaving it "
        "to the reaper, and `--reuse-stack` is refused",
    ),
    "DOCKER_HOST": (
        "`unix:///var/run/docker.sock`",
        "the engine: `unix://`, `tcp://` or `ssh://`; service URLs use its host name "
        "([a remote engine](../how-to/remote-engine.md))",
    ),
    "DOCKER_BUILDKIT": (
        "unset",
        "must be `0` on Podman, which has no BuildKit ([Podman](../how-to/podman.md))",
    ),
    "MICROSTACK_CONTEXT_PORT": (
        "set by the plugin",
        "inside measured containers only (`--stack-coverage`): the port the per-test context relay "
        "listens on; not for users to set",
    ),
    "MICROSTACK_CONTEXT_STATE": (
        "set by the plugin",
        "inside measured containers only (`--stack-coverage`): where the context relay keeps its "
        "state; not for users to set",
    ),
    "MICROSTACK_RUN_ID": (
        "random",
        "the run id in project names, `microstack-it-<id>-<worker>` (1-24 lowercase letters and "
        "digits), for tools that start runs and must find their stacks; unique per live run",
    ),
    "MICROSTACK_STATE_DIR": (
        "`$XDG_CACHE_HOME/pytest-microstack`",
        "the private (0700) folder for the config cache, locks, kept-stack records and the machine id",
    ),
    "COMPOSE_ENV_FILES": (
        "`.env`",
        "compose's own: the env files compose reads; like every `COMPOSE_*` variable and every "
        "variable your compose files name, it is part of the key of the cached `docker compose config`",
    ),
    "XDG_CACHE_HOME": ("`~/.cache`", "the parent of the state folder when `MICROSTACK_STATE_DIR` is unset"),
    "MICROSTACK_COVERAGE_DATA": (
        "set by the plugin",
        "inside a measured container (`--stack-coverage`): where its processes write coverage data",
    ),
    "COVERAGE_CORE": (
        "`sysmon` on Python 3.12+",
        "inside a measured container: coverage.py's tracer; the plugin sets `sysmon` unless the service does",
    ),
}


@dataclass(frozen=True)
class Option:
    """One command-line option as `pytest_addoption` declares it."""

    flags: tuple[str, ...]
    dest: str
    help: str
    metavar: str | None
    takes_value: bool


@dataclass(frozen=True)
class IniKey:
    """One ini key as `pytest_addoption` declares it."""

    name: str
    help: str
    kind: str
    default: Any


class _Recorder:
    """Stands in for pytest's Parser and its option group: records what the plugin declares."""

    def __init__(self) -> None:
        self.options: list[Option] = []
        self.ini: list[IniKey] = []

    def getgroup(self, name: str, description: str = "") -> _Recorder:
        return self

    def addoption(self, *flags: str, **attrs: Any) -> None:
        dest = attrs.get("dest") or flags[0].lstrip("-").replace("-", "_")
        takes_value = attrs.get("action") not in ("store_true", "store_false", "count")
        self.options.append(Option(flags, dest, attrs.get("help", ""), attrs.get("metavar"), takes_value))

    def addini(self, name: str, help: str, type: str | None = None, default: Any = None) -> None:
        self.ini.append(IniKey(name, help, type or "string", default))


def declared() -> _Recorder:
    """Every option and ini key the plugin declares, from its own `pytest_addoption`."""
    from pytest_microstack import plugin

    recorder = _Recorder()
    plugin.pytest_addoption(recorder)  # type: ignore[arg-type]
    return recorder


@dataclass(frozen=True)
class FixtureDoc:
    """A fixture of `_session/fixtures.py`: its name, scope, autouse and docstring."""

    name: str
    scope: str
    autouse: bool
    doc: str


def _fixture_call(decorator: ast.expr) -> ast.Call | ast.Attribute | None:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute) and target.attr == "fixture":
        return decorator if isinstance(decorator, ast.Call) else target
    return None


def fixtures() -> list[FixtureDoc]:
    """The plugin's fixtures, read from the source (importing them would register nothing useful)."""
    from pytest_microstack._session import doubles_fixture, fixtures

    nodes = []
    for module in (fixtures, doubles_fixture):
        nodes += ast.parse(Path(inspect.getfile(module)).read_text()).body
    found = []
    for node in nodes:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = _fixture_call(decorator)
            if call is None:
                continue
            keywords = {k.arg: k.value for k in call.keywords} if isinstance(call, ast.Call) else {}
            scope = keywords.get("scope")
            autouse = keywords.get("autouse")
            found.append(
                FixtureDoc(
                    node.name,
                    str(scope.value) if isinstance(scope, ast.Constant) else "function",
                    bool(autouse.value) if isinstance(autouse, ast.Constant) else False,
                    ast.get_docstring(node) or "",
                )
            )
    return found


def hooks() -> dict[str, str]:
    """Hook name -> docstring, from the plugin's HookSpecs."""
    from pytest_microstack import plugin

    return {
        name: inspect.getdoc(member) or ""
        for name, member in vars(plugin.HookSpecs).items()
        if name.startswith("pytest_")
    }


def markers() -> dict[str, str]:
    from pytest_microstack import plugin

    return dict(plugin._MARKERS)


def _cell(text: str) -> str:
    """One table cell: on one line, its `|` escaped, `<name>` shown rather than read as HTML."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _default(key: IniKey) -> str:
    if key.default in ([], "", None):
        return "(unset)"
    return f"`{str(key.default).lower() if isinstance(key.default, bool) else key.default}`"


def ini_table(anchors: bool = True) -> str:
    rows = ["| ini key | type | default | meaning |", "|---|---|---|---|"]
    for key in declared().ini:
        anchor = f" {{ #{key.name} }}" if anchors else ""
        rows.append(f"| `{key.name}`{anchor} | {key.kind} | {_default(key)} | {_cell(key.help)} |")
    return "\n".join(rows)


def _anchor(option: Option) -> str:
    return option.flags[0].lstrip("-")


def options_table(anchors: bool = True) -> str:
    rows = ["| option | meaning |", "|---|---|"]
    for option in declared().options:
        value = f" {option.metavar or option.dest.upper()}" if option.takes_value else ""
        names = ", ".join(f"`{flag}{value}`" for flag in option.flags)
        anchor = f" {{ #{_anchor(option)} }}" if anchors else ""
        rows.append(f"| {names}{anchor} | {_cell(option.help)} |")
    return "\n".join(rows)


def package_page_tables() -> str:
    """The configuration tables as the package page (pytest-microstack/README.md) shows them."""
    return f"{ini_table(anchors=False)}\n\n{options_table(anchors=False)}\n"


def environment_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [
        f"| `{name}` {{ #{name.lower()} }} | {default} | {meaning} |"
        for name, (default, meaning) in ENVIRONMENT.items()
    ]
    return "\n".join(rows)


def fixtures_section() -> str:
    parts = []
    for fixture in fixtures():
        if fixture.name.startswith("_") and not fixture.autouse:
            continue
        scope = fixture.scope + (", autouse: it applies to every test" if fixture.autouse else "")
        doc = re.sub(r"^\[[a-z]+\] ", "", fixture.doc)  # the docstring's own [scope] tag, said above
        parts.append(f"### `{fixture.name}`\n\n*Scope: {scope}.*\n\n{doc}\n")
    return "\n".join(parts)


def markers_table() -> str:
    rows = ["| marker | added to |", "|---|---|"]
    rows += [f"| `{name}` {{ #{name} }} | {_cell(text)} |" for name, text in markers().items()]
    return "\n".join(rows)


def hooks_section() -> str:
    return "\n".join(f"### `{name}`\n\n{doc}\n" for name, doc in hooks().items())


TABLES: dict[str, Callable[[], str]] = {
    "ini": ini_table,
    "options": options_table,
    "environment": environment_table,
    "fixtures": fixtures_section,
    "markers": markers_table,
    "hooks": hooks_section,
    "changelog": lambda: changelog(),
}


def render(markdown: str) -> str:
    """The page with every `<!-- reference: NAME -->` line replaced by its table."""

    def table(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise ValueError(f"unknown reference table {name!r}: one of {', '.join(TABLES)}")
        return TABLES[name]()

    return MARKER.sub(table, markdown)


PACKAGE_FILES = "https://github.com/microstack-dev/microstack/blob/main/pytest-microstack/"
RELATIVE_LINK = re.compile(r"\]\((?![a-z]+:|#|/)([^)]+)\)")


def package_links(markdown: str) -> str:
    """Links relative to pytest-microstack/ (the CHANGELOG's, included as is) as the repository's."""
    return RELATIVE_LINK.sub(lambda match: f"]({PACKAGE_FILES}{match.group(1)})", markdown)


def changelog() -> str:
    """pytest-microstack/CHANGELOG.md under the page's own title, its relative links made absolute."""
    text = (REPOSITORY / "pytest-microstack" / "CHANGELOG.md").read_text()
    return package_links(text.split("\n", 1)[1])  # without its `# Changelog` title


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """mkdocs' hook: every page goes through `render`."""
    return render(markdown)
