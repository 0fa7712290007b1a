"""MICROSTACK_RUN_ID: a run whose stacks a tool (the soak) must find gets the id it is given."""

from __future__ import annotations

import pytest
from pytest_microstack._session.run_state import RUN_ID_ENV

from unit.test_plugin import settings_from_config

DECLARES = "[pytest]\nstack_timeout = 30\n"


def test_the_given_run_id_names_the_project(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RUN_ID_ENV, "soak0042")
    pytester.makefile(".ini", pytest=DECLARES)

    settings = settings_from_config(pytester.parseconfigure())

    assert settings.run_id == "soak0042"
    assert settings.project == "microstack-it-soak0042-main"


def test_without_it_each_run_gets_a_random_id(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    pytester.makefile(".ini", pytest=DECLARES)

    ids = {settings_from_config(pytester.parseconfigure()).run_id for _ in range(3)}

    assert len(ids) == 3


@pytest.mark.parametrize("value", ["Soak", "soak-1", "x" * 25, "a b"])
def test_an_id_that_cant_name_a_project_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(RUN_ID_ENV, value)
    pytester.makefile(".ini", pytest=DECLARES)

    with pytest.raises(pytest.UsageError, match=RUN_ID_ENV):
        pytester.parseconfigure()
