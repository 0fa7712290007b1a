"""read_settings(Path) and prebuild find and read the configuration file by pytest's rules (issue 23 §5).

Each of the four files pytest reads declares the same stack; precedence and
the lookup from a folder are checked against what pytest itself reports.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from pytest_microstack import StackSettings, read_settings
from pytest_microstack._errors import SettingsError
from pytest_microstack.prebuild import main as prebuild

SERVICES = "\n    api http 5000 /health\n    db tcp 5432"
INI_BODY = (
    f"stack_services ={SERVICES}\nstack_compose_files = compose.yaml compose.ci.yaml\nstack_timeout = 42\n"
)
FILES = {
    "pytest.ini": f"[pytest]\n{INI_BODY}",
    ".pytest.ini": f"[pytest]\n{INI_BODY}",
    "pyproject.toml": (
        '[project]\nname = "x"\n\n[tool.pytest.ini_options]\n'
        'stack_services = ["api http 5000 /health", "db tcp 5432"]\n'
        'stack_compose_files = ["compose.yaml", "compose.ci.yaml"]\nstack_timeout = "42"\n'
    ),
    "tox.ini": f"[tox]\nenvlist = py311\n\n[pytest]\n{INI_BODY}",
    "setup.cfg": f"[metadata]\nname = x\n\n[tool:pytest]\n{INI_BODY}",
}


def _assert_declared(root: Path, found: object) -> None:
    settings = read_settings(found, run_id="r1")  # type: ignore[arg-type]
    assert settings.root == root
    assert [spec.name for spec in settings.services] == ["api", "db"]
    assert settings.compose_files == ("compose.yaml", "compose.ci.yaml")
    assert settings.stack_timeout == 42.0


@pytest.mark.parametrize("name", list(FILES))
def test_each_configuration_file_is_read_named_or_found_from_its_folder(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(FILES[name])
    (tmp_path / "tests").mkdir()

    _assert_declared(tmp_path, tmp_path / name)
    _assert_declared(tmp_path, tmp_path)
    _assert_declared(tmp_path, tmp_path / "tests")  # found above, as pytest finds it


@pytest.mark.parametrize(
    ("present", "winner"),
    [
        pytest.param(["pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"], "pytest.ini", id="pytest.ini"),
        pytest.param(["pyproject.toml", "tox.ini", "setup.cfg"], "pyproject.toml", id="then-pyproject"),
        pytest.param(["tox.ini", "setup.cfg"], "tox.ini", id="then-tox.ini"),
        pytest.param(["setup.cfg"], "setup.cfg", id="setup.cfg-last"),
    ],
)
def test_with_several_files_the_one_pytest_picks_wins(
    pytester: pytest.Pytester, present: list[str], winner: str
) -> None:
    for name in present:  # every file declares a different timeout: the winner's is read
        pytester.path.joinpath(name).write_text(FILES[name].replace("42", str(10 + present.index(name))))

    settings = read_settings(pytester.path, run_id="r1")

    assert settings.stack_timeout == 10 + present.index(winner)
    assert pytester.parseconfig().inipath == pytester.path / winner  # what pytest itself picks


def test_a_file_without_a_pytest_section_is_passed_over_for_one_with_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py311\n")
    (tmp_path / "setup.cfg").write_text(FILES["setup.cfg"])

    _assert_declared(tmp_path, tmp_path)


def test_a_folder_without_any_configuration_file_is_refused_naming_the_files(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError, match=r"no pytest configuration file in .* \(pytest.ini, pyproject.toml"
    ):
        read_settings(tmp_path, run_id="r1")


def test_a_pytest_section_in_setup_cfg_is_refused_as_pytest_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text(f"[pytest]\n{INI_BODY}")

    with pytest.raises(SettingsError, match=r"\[pytest\] section in setup.cfg files is no longer supported"):
        read_settings(tmp_path / "setup.cfg", run_id="r1")


def test_prebuild_without_an_argument_reads_the_file_pytest_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings it read reach the image step (a stand-in here: unit tests have no engine)."""
    (tmp_path / "pyproject.toml").write_text(FILES["pyproject.toml"])
    monkeypatch.chdir(tmp_path)
    seen: list[StackSettings] = []

    def plan_nothing(settings: StackSettings) -> SimpleNamespace:
        seen.append(settings)
        return SimpleNamespace(images={})

    monkeypatch.setattr("pytest_microstack.prebuild.prepare_images", plan_nothing)

    assert prebuild([]) == 0
    assert [spec.name for spec in seen[0].services] == ["api", "db"]
    assert seen[0].root == tmp_path


def test_prebuild_names_a_folder_without_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(SystemExit) as exited:
        prebuild([])

    assert exited.value.code == 2
    assert "no pytest configuration file in" in capsys.readouterr().err
