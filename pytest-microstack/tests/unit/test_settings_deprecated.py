"""The names issue 25 replaced keep working until 2.0, each with a DeprecationWarning naming its successor.

`StackSettings(keep=, reuse=, wait_for_teardown=)` became `teardown=TeardownPolicy...`;
`startup_timeout` became `stack_timeout` (the ini key's name), on `Stack` too;
`StackStartError.deadline` became `.timeout`.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import pytest
from pytest_microstack import SettingsError, StackSettings, StackStartError, TeardownPolicy

from unit.fakes import FakeEngine
from unit.test_failure_report import make_stack


@pytest.fixture(autouse=True)
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param({"keep": True}, TeardownPolicy.KEEP, id="keep"),
        pytest.param({"reuse": True}, TeardownPolicy.REUSE, id="reuse"),
        pytest.param({"keep": True, "reuse": True}, TeardownPolicy.REUSE, id="both"),
        pytest.param({"wait_for_teardown": True}, TeardownPolicy.WAIT, id="wait"),
        pytest.param({"wait_for_teardown": False}, TeardownPolicy.REAPER, id="reaper"),
        pytest.param({"keep": False}, TeardownPolicy.REAPER, id="default-outside-ci"),
    ],
)
def test_the_three_booleans_still_build_settings_with_a_warning(
    tmp_path: Path, flags: dict[str, Any], expected: TeardownPolicy
) -> None:
    with pytest.warns(DeprecationWarning, match=r"use teardown=TeardownPolicy"):
        settings = StackSettings(tmp_path, (), "r1", **flags)

    assert settings.teardown is expected


def teardown_of(settings: StackSettings) -> TeardownPolicy:
    """Read anew each time: the deprecated setters change it behind a type checker's back."""
    return settings.teardown


def test_the_three_booleans_still_read_and_write_with_a_warning(tmp_path: Path) -> None:
    settings = StackSettings(tmp_path, (), "r1", teardown=TeardownPolicy.KEEP)

    with pytest.warns(DeprecationWarning, match=r"StackSettings\.keep is deprecated"):
        assert settings.keep is True
    with pytest.warns(DeprecationWarning, match=r"StackSettings\.reuse is deprecated"):
        assert settings.reuse is False
    with pytest.warns(DeprecationWarning, match=r"StackSettings\.reuse is deprecated"):
        settings.reuse = True
    assert teardown_of(settings) is TeardownPolicy.REUSE
    with pytest.warns(DeprecationWarning, match=r"StackSettings\.wait_for_teardown is deprecated"):
        settings.wait_for_teardown = True  # a kept stack is never removed: no effect
    assert teardown_of(settings) is TeardownPolicy.REUSE
    with pytest.warns(DeprecationWarning, match=r"StackSettings\.reuse is deprecated"):
        settings.reuse = False
    assert teardown_of(settings) is TeardownPolicy.REAPER  # the default outside CI
    with pytest.warns(DeprecationWarning, match=r"StackSettings\.wait_for_teardown is deprecated"):
        settings.wait_for_teardown = True
    assert teardown_of(settings) is TeardownPolicy.WAIT
    with pytest.warns(DeprecationWarning, match=r"StackSettings\.wait_for_teardown is deprecated"):
        assert settings.wait_for_teardown is True


def test_startup_timeout_is_stack_timeout_with_a_warning(tmp_path: Path) -> None:
    with pytest.warns(
        DeprecationWarning, match=r"StackSettings\.startup_timeout is deprecated.*stack_timeout"
    ):
        settings = StackSettings(tmp_path, (), "r1", startup_timeout=12.5)
    assert settings.stack_timeout == 12.5

    with pytest.warns(DeprecationWarning, match=r"use stack_timeout"):
        settings.startup_timeout = 7.0
    with pytest.warns(DeprecationWarning, match=r"use stack_timeout"):
        assert settings.startup_timeout == 7.0 == settings.stack_timeout


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        pytest.param(
            {"teardown": TeardownPolicy.WAIT, "keep": True}, "give teardown or keep, not both", id="teardown"
        ),
        pytest.param(
            {"stack_timeout": 5.0, "startup_timeout": 6.0}, "stack_timeout or startup_timeout", id="timeout"
        ),
    ],
)
def test_a_new_name_and_its_old_one_together_are_refused(
    tmp_path: Path, given: dict[str, Any], problem: str
) -> None:
    with pytest.warns(DeprecationWarning, match="is deprecated"), pytest.raises(SettingsError, match=problem):
        StackSettings(tmp_path, (), "r1", **given)


def test_copies_and_comparisons_use_no_deprecated_name(tmp_path: Path) -> None:
    """dataclasses.replace reads the fields only: a changed setting is kept, with no warning."""
    settings = StackSettings(tmp_path, (), "r1", teardown=TeardownPolicy.KEEP, stack_timeout=9.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copy = dataclasses.replace(settings, stack_timeout=3.0, teardown=TeardownPolicy.WAIT)
        assert copy != settings
        assert dataclasses.replace(copy, stack_timeout=9.0, teardown=TeardownPolicy.KEEP) == settings
        text = repr(settings)

    assert (copy.stack_timeout, copy.teardown, copy.artifacts) == (
        3.0,
        TeardownPolicy.WAIT,
        settings.artifacts,
    )
    assert "teardown=<TeardownPolicy.KEEP" in text
    assert "startup_timeout" not in text
    assert "keep=" not in text


def test_the_stack_and_its_start_error_keep_their_old_names_with_a_warning(engine: FakeEngine) -> None:
    stack = make_stack(engine, None)
    error = StackStartError("p-1", "failed to start", 12.5)

    with pytest.warns(DeprecationWarning, match=r"Stack\.startup_timeout is deprecated.*stack_timeout"):
        assert stack.startup_timeout == stack.stack_timeout == 10
    with pytest.warns(DeprecationWarning, match=r"StackStartError\.deadline is deprecated.*timeout"):
        assert error.deadline == error.timeout == 12.5


K, R, W, P = TeardownPolicy.KEEP, TeardownPolicy.REUSE, TeardownPolicy.WAIT, TeardownPolicy.REAPER
DEFAULT = None  # TeardownPolicy.default(): WAIT in CI, REAPER elsewhere


@pytest.mark.parametrize("ci", [False, True], ids=["local", "ci"])
@pytest.mark.parametrize(
    ("flag", "value", "after"),  # after: what each of REAPER, WAIT, KEEP, REUSE becomes
    [
        pytest.param("keep", True, (K, K, K, R), id="keep=True"),
        pytest.param("keep", False, (P, W, DEFAULT, R), id="keep=False"),
        pytest.param("reuse", True, (R, R, R, R), id="reuse=True"),
        pytest.param("reuse", False, (P, W, K, DEFAULT), id="reuse=False"),
        pytest.param("wait_for_teardown", True, (W, W, K, R), id="wait=True"),
        pytest.param("wait_for_teardown", False, (P, P, K, R), id="wait=False"),
    ],
)
def test_each_deprecated_flag_writes_the_policy_it_always_did(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ci: bool,
    flag: str,
    value: bool,
    after: tuple[TeardownPolicy | None, ...],
) -> None:
    """Every flag, both values, from every policy: a kept stack stays kept; off resets only its own."""
    if ci:
        monkeypatch.setenv("CI", "true")
    for before, expected in zip((P, W, K, R), after, strict=True):
        settings = StackSettings(tmp_path, (), "r1", teardown=before)
        warning = rf"^StackSettings\.{flag} is deprecated .*: use teardown$"
        with pytest.warns(DeprecationWarning, match=warning):
            setattr(settings, flag, value)
        want = (W if ci else P) if expected is DEFAULT else expected
        assert teardown_of(settings) is want, f"{flag}={value} from {before}"


@pytest.mark.parametrize("flag", ["keep", "reuse", "wait_for_teardown"])
def test_a_deprecated_flag_reads_true_for_its_policy_only(tmp_path: Path, flag: str) -> None:
    own = {"keep": K, "reuse": R, "wait_for_teardown": W}[flag]
    for policy in TeardownPolicy:
        settings = StackSettings(tmp_path, (), "r1", teardown=policy)
        with pytest.warns(DeprecationWarning, match=rf"^StackSettings\.{flag} is deprecated") as caught:
            read = getattr(settings, flag)
        assert read is (policy is own)
        assert [w.filename for w in caught] == [__file__]  # the warning points at the caller's line


def test_the_deprecated_flags_are_not_fields(tmp_path: Path) -> None:
    names = {field.name for field in dataclasses.fields(StackSettings)}
    assert names.isdisjoint({"keep", "reuse", "wait_for_teardown", "startup_timeout"})
    assert StackSettings.keep.__doc__ == "Deprecated: `teardown is TeardownPolicy.KEEP`."
