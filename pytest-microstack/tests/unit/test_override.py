"""tests.harness.override: the compose override that labels and un-serialises a test stack."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.harness.override import harness_override

LABELS = {
    "io.microstack.harness": "1",
    "io.microstack.owner": "host@123:456",
    "io.microstack.keep": "false",
    "io.microstack.config": "0123abcd",
}
RESET = "<!reset {}>"
_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_yaml_subset(text: str) -> dict[str, Any]:
    """Parse block mappings with 2-space indents, JSON-quoted scalars and `!reset {}`.

    That is all the override may use; anything else (flow collections, tabs,
    bad indentation, duplicate keys, bare scalars) fails the test.
    """
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    expect_child = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert "\t" not in line, f"line {number}: tab"
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"line {number}: odd indent"
        while stack[-1][0] >= indent:
            stack.pop()
        parent_indent, parent = stack[-1]
        if expect_child:
            assert indent == parent_indent + 2, f"line {number}: not indented under its key"
        key, sep, rest = line.strip().partition(":")
        assert sep, f"line {number}: not a `key:` line: {line!r}"
        assert _KEY.match(key), f"line {number}: not a plain key: {line!r}"
        assert key not in parent, f"line {number}: duplicate key {key!r}"
        value = rest.strip()
        if not value:
            parent[key] = {}
            stack.append((indent, parent[key]))
            expect_child = True
            continue
        expect_child = False
        if value == "!reset {}":
            parent[key] = RESET
        else:
            assert value.startswith('"'), f"line {number}: unquoted scalar {value!r}"
            parent[key] = json.loads(value)
    assert not expect_child, "the last key has no value"
    return root


CONFIG: dict[str, Any] = {
    "name": "microstack",
    "services": {
        "user-service": {"image": "u", "labels": {"existing": "x"}},
        "product-service": {
            "image": "p",
            "depends_on": {"user-service": {"condition": "service_started", "required": False}},
        },
        "worker": {"image": "w", "depends_on": {}},
    },
    "networks": {
        "default": {"name": "microstack_default"},
        "shared": {"name": "shared", "external": True},
        "bare": None,
    },
    "volumes": {
        "user-data": {"name": "microstack_user-data"},
        "product-data": {},
        "outside": {"external": True, "name": "outside"},
    },
}


@pytest.fixture
def parsed() -> dict[str, Any]:
    return parse_yaml_subset(harness_override(CONFIG, LABELS))


def test_every_service_gets_the_labels(parsed: dict[str, Any]) -> None:
    assert set(parsed["services"]) == {"user-service", "product-service", "worker"}
    for service in parsed["services"].values():
        assert service["labels"] == LABELS


@pytest.mark.parametrize(
    ("service", "reset"),
    [
        pytest.param("product-service", True, id="had-depends-on"),
        pytest.param("user-service", False, id="no-depends-on"),
        pytest.param("worker", False, id="empty-depends-on"),
    ],
)
def test_depends_on_is_reset_only_where_there_was_one(
    parsed: dict[str, Any], service: str, reset: bool
) -> None:
    entry = parsed["services"][service]
    if reset:
        assert entry["depends_on"] == RESET
    else:
        assert "depends_on" not in entry


@pytest.mark.parametrize(
    ("section", "owned"),
    [
        pytest.param("networks", {"default", "bare"}, id="networks"),
        pytest.param("volumes", {"user-data", "product-data"}, id="volumes"),
    ],
)
def test_owned_networks_and_volumes_get_the_labels_external_ones_are_skipped(
    parsed: dict[str, Any], section: str, owned: set[str]
) -> None:
    assert set(parsed[section]) == owned
    for entry in parsed[section].values():
        assert entry == {"labels": LABELS}


def test_the_only_tag_is_reset_and_the_header_is_a_comment() -> None:
    text = harness_override(CONFIG, LABELS)
    assert text.startswith("#")
    assert text.endswith("\n")
    assert re.findall(r"!\w+", text) == ["!reset"]


def test_sections_with_nothing_owned_are_left_out() -> None:
    config = {"services": {"a": {}}, "networks": {"ext": {"external": True}}, "volumes": {}}
    parsed = parse_yaml_subset(harness_override(config, LABELS))
    assert set(parsed) == {"services"}


def test_a_config_without_services_gives_an_empty_but_valid_override() -> None:
    text = harness_override({}, LABELS)
    assert "services:" in text
    assert "labels" not in text


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("true", id="yaml-boolean-word"),
        pytest.param("123", id="number"),
        pytest.param('quote " and: colon # hash', id="yaml-special-characters"),
        pytest.param("", id="empty"),
    ],
)
def test_label_values_stay_strings(value: str) -> None:
    parsed = parse_yaml_subset(harness_override({"services": {"a": {}}}, {"k": value}))
    assert parsed["services"]["a"]["labels"] == {"k": value}
