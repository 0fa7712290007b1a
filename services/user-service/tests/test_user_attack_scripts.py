"""The attack scripts (tools/attacks/) keep their README's convention; their client reaches 127.0.0.1 only."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ATTACKS = Path(__file__).resolve().parents[3] / "tools" / "attacks"


@pytest.fixture(autouse=True)
def attacks_importable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Function scope: the attacks folder on sys.path, as when a script runs alone."""
    monkeypatch.syspath_prepend(str(ATTACKS))
    yield
    for name in ("helpers", "runner", *(path.stem for path in ATTACKS.glob("attack_*_*.py"))):
        sys.modules.pop(name, None)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as `python script.py` has it: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(ATTACKS.glob("attack_*_*.py")), ids=lambda path: path.stem)
def test_each_script_keeps_the_convention(path: Path) -> None:
    module = load(path)
    letter = path.name.split("_")[1]
    assert len(letter) == 1
    assert letter.isalpha()
    assert list(inspect.signature(module.main).parameters) == ["base_url"]
    assert isinstance(getattr(module, "SERVER_ENV", {}), dict)
    assert 'if __name__ == "__main__":\n    raise SystemExit(helpers.cli(main))' in path.read_text()


@pytest.mark.parametrize("path", sorted(ATTACKS.glob("attack_*_*.py")), ids=lambda path: path.stem)
def test_the_runner_reads_each_scripts_server_settings(path: Path) -> None:
    """The runner imports each script for its SERVER_ENV before serving it: that must work for every one."""
    runner = load(ATTACKS / "runner.py")
    assert runner.server_env(path) == dict(getattr(load(path), "SERVER_ENV", {}))


def test_the_runner_finds_scripts_by_letter() -> None:
    runner = load(ATTACKS / "runner.py")
    assert [path.name for path in runner.scripts(["d", "a"])] == [
        "attack_a_table_flood.py",
        "attack_d_shared_address_typo.py",
    ]
    with pytest.raises(SystemExit, match="no attack script"):
        runner.scripts(["z"])


@pytest.mark.parametrize(
    ("base_url", "source"),
    [
        pytest.param("http://example.com:5000", "127.0.0.2", id="another-host"),
        pytest.param("http://localhost:5000", "127.0.0.2", id="a-name"),
        pytest.param("http://127.0.0.1:5000", "10.0.0.1", id="a-non-loopback-source"),
    ],
)
def test_the_client_refuses_anything_but_loopback(base_url: str, source: str) -> None:
    helpers = load(ATTACKS / "helpers.py")
    with pytest.raises(SystemExit, match=r"127\.0\.0\.1"):
        helpers.Client(base_url, source=source)
