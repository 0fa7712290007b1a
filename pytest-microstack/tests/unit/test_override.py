"""_engine.override: the compose override that labels, re-publishes and un-serialises a stack."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml
from pytest_microstack._engine.override import HEADER, Tagged, _Dumper, build_override, harness_override

from unit.compose_yaml import Tag, load_compose

LABELS = {
    "io.microstack.harness": "1",
    "io.microstack.owner": "host@123:456",
    "io.microstack.keep": "false",
    "io.microstack.config": "0123abcd",
}


def override(config: dict[str, Any], labels: dict[str, str] = LABELS, **options: Any) -> dict[str, Any]:
    """The override for `config`, read back as compose reads it."""
    return load_compose(harness_override(config, labels, **options))


def published(
    target: int, host_ip: str = "127.0.0.1", host_port: str = "", protocol: str = "tcp"
) -> dict[str, Any]:
    """A port as `docker compose config` prints it (always the long form)."""
    return {
        "mode": "ingress",
        "host_ip": host_ip,
        "target": target,
        "published": host_port,
        "protocol": protocol,
    }


CONFIG: dict[str, Any] = {
    "name": "microstack",
    "services": {
        "user-service": {
            "image": "u",
            "labels": {"existing": "x"},
            "ports": [published(5000, host_port="5000")],
        },
        "product-service": {
            "build": {"context": "/src/services"},
            "container_name": "product",
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
    return override(CONFIG)


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
def test_with_parallel_start_depends_on_is_reset_only_where_there_was_one(service: str, reset: bool) -> None:
    entry = override(CONFIG, parallel_start=True)["services"][service]
    if reset:
        assert entry["depends_on"] == Tag("!reset", {})
    else:
        assert "depends_on" not in entry


def test_without_parallel_start_depends_on_is_left_as_it_is(parsed: dict[str, Any]) -> None:
    assert all("depends_on" not in entry for entry in parsed["services"].values())


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


def test_the_header_is_a_comment_and_the_only_tags_are_composes() -> None:
    text = harness_override(CONFIG, LABELS, ports={"worker": 80}, parallel_start=True)
    assert text.startswith(HEADER)
    assert HEADER.startswith("#")
    assert text.endswith("\n")
    assert set(re.findall(r"!\w+", text)) == {"!override", "!reset"}


def test_sections_with_nothing_owned_are_left_out() -> None:
    config = {"services": {"a": {"image": "a"}}, "networks": {"ext": {"external": True}}, "volumes": {}}
    assert set(override(config)) == {"services"}


def test_a_config_without_services_gives_an_empty_but_valid_override() -> None:
    assert override({}) == {"services": {}}


# --- ports --------------------------------------------------------------------------------------


def ports_of(parsed: dict[str, Any], service: str) -> Tag:
    value = parsed["services"][service]["ports"]
    assert isinstance(value, Tag)
    return value


def test_published_ports_are_replaced_by_random_host_ports_on_the_host_ip() -> None:
    config = {
        "services": {
            "api": {
                "image": "api",
                "ports": [
                    published(5000, host_ip="0.0.0.0", host_port="5000"),
                    published(9090, host_port="19090"),
                    published(53, host_port="53", protocol="udp"),
                    published(53, host_port="53"),
                ],
            }
        }
    }

    ports = ports_of(override(config), "api")

    assert ports.tag == "!override", "replaces the project's list instead of adding to it"
    assert ports.value == ["127.0.0.1::5000", "127.0.0.1::9090", "127.0.0.1::53/udp", "127.0.0.1::53"]


def test_ports_are_published_on_the_given_host_ip() -> None:
    config = {"services": {"api": {"image": "api", "ports": [published(5000, host_port="5000")]}}}
    assert ports_of(override(config, host_ip="0.0.0.0"), "api").value == ["0.0.0.0::5000"]


def test_short_syntax_ports_keep_their_container_port() -> None:
    config = {"services": {"api": {"image": "api", "ports": ["127.0.0.1:8080:80", "9000", 7000]}}}
    assert ports_of(override(config), "api").value == ["127.0.0.1::80", "127.0.0.1::9000", "127.0.0.1::7000"]


@pytest.mark.parametrize(
    ("ports", "declared", "expected"),
    [
        pytest.param([], 5000, ["127.0.0.1::5000"], id="declared-port-not-published-by-the-project"),
        pytest.param(
            [published(5000, host_port="5000")], 5000, ["127.0.0.1::5000"], id="declared-and-published-once"
        ),
        pytest.param([published(9090)], 5000, ["127.0.0.1::9090", "127.0.0.1::5000"], id="both"),
        pytest.param(
            [published(53, protocol="udp")], 53, ["127.0.0.1::53/udp", "127.0.0.1::53"], id="udp-then-tcp"
        ),
    ],
)
def test_the_declared_port_is_always_published(
    ports: list[dict[str, Any]], declared: int, expected: list[str]
) -> None:
    config = {"services": {"api": {"image": "api", "ports": ports}}}
    assert ports_of(override(config, ports={"api": declared}), "api").value == expected


def test_a_service_publishing_nothing_gets_no_ports(parsed: dict[str, Any]) -> None:
    assert "ports" not in parsed["services"]["worker"]
    assert "ports" not in override(CONFIG, ports={"worker": None})["services"]["worker"]


# --- container_name and images ------------------------------------------------------------------


def test_container_name_is_reset_where_the_project_fixes_one(parsed: dict[str, Any]) -> None:
    assert parsed["services"]["product-service"]["container_name"] == Tag("!reset", "")
    assert "container_name" not in parsed["services"]["user-service"]


def test_images_are_set_only_for_the_services_given_one() -> None:
    parsed = override(CONFIG, images={"product-service": "microstack-product-service:it-0123abcd"})

    assert parsed["services"]["product-service"]["image"] == "microstack-product-service:it-0123abcd"
    assert "image" not in parsed["services"]["user-service"], "a pulled image is the project's own"
    assert "image" not in parsed["services"]["worker"]


# --- YAML safety --------------------------------------------------------------------------------

SPECIAL = [
    pytest.param("true", id="yaml-boolean-word"),
    pytest.param("yes", id="yaml-1.1-boolean"),
    pytest.param("123", id="number"),
    pytest.param("1e3", id="float"),
    pytest.param("0x1F", id="hex"),
    pytest.param("2024-01-01", id="date"),
    pytest.param("null", id="null-word"),
    pytest.param("~", id="tilde"),
    pytest.param("", id="empty"),
    pytest.param('quote " and: colon # hash', id="quote-colon-hash"),
    pytest.param("'single'", id="single-quotes"),
    pytest.param("- item", id="dash"),
    pytest.param("{a: 1}", id="flow-mapping"),
    pytest.param("[1, 2]", id="flow-sequence"),
    pytest.param("*alias", id="alias"),
    pytest.param("&anchor x", id="anchor"),
    pytest.param("!reset", id="tag"),
    pytest.param("| block", id="literal-indicator"),
    pytest.param("line one\nline two", id="newline"),
    pytest.param("  padded  ", id="surrounding-spaces"),
    pytest.param("caf\u00e9 \u2603", id="unicode"),
    pytest.param("%TAG", id="directive"),
]


@pytest.mark.parametrize("value", SPECIAL)
def test_values_with_yaml_special_characters_round_trip(value: str) -> None:
    config = {"services": {"a": {"build": {"context": "."}}}}

    parsed = override(config, {"k": value}, images={"a": value})

    assert parsed["services"]["a"]["labels"] == {"k": value}
    assert parsed["services"]["a"]["image"] == value


@pytest.mark.parametrize("name", SPECIAL)
def test_names_with_yaml_special_characters_round_trip(name: str) -> None:
    config = {
        "services": {name: {"image": "x", "container_name": "c"}},
        "networks": {name: {}},
        "volumes": {name: {}},
    }

    parsed = override(config, {name: name})

    assert list(parsed["services"]) == [name]
    assert parsed["services"][name]["labels"] == {name: name}
    assert list(parsed["networks"]) == [name]
    assert list(parsed["volumes"]) == [name]


INJECTIONS = [
    pytest.param("x:\n    privileged: true", id="service-key-on-the-next-line"),
    pytest.param("x\nservices:\n  evil:\n    image: evil", id="top-level-section"),
    pytest.param('x": {privileged: true}, "y', id="flow-break-out"),
    pytest.param("x\n    privileged: true\n  y", id="indented-sibling"),
]


@pytest.mark.parametrize("name", INJECTIONS)
def test_a_service_name_cannot_add_structure(name: str) -> None:
    config = {"services": {name: {"image": "x", "container_name": "c"}, "other": {"image": "o"}}}

    parsed = override(config, images={name: "img:it-1"})

    assert set(parsed) == {"services"}
    assert set(parsed["services"]) == {name, "other"}
    assert parsed["services"][name] == {
        "labels": LABELS,
        "image": "img:it-1",
        "container_name": Tag("!reset", ""),
    }
    assert parsed["services"]["other"] == {"labels": LABELS}


@pytest.mark.parametrize("text", INJECTIONS)
def test_a_label_name_or_value_cannot_add_structure(text: str) -> None:
    config = {"services": {"api": {"image": "x"}}}

    parsed = override(config, {text: text, "plain": "1"})

    assert parsed == {"services": {"api": {"labels": {text: text, "plain": "1"}}}}


def test_a_long_form_port_without_protocol_is_tcp() -> None:
    config = {"services": {"api": {"ports": [{"target": 8080}]}}}

    assert override(config)["services"]["api"]["ports"] == Tag("!override", ["127.0.0.1::8080"])


def test_the_text_is_block_style_with_sorted_keys() -> None:
    """The file is read by people too (failure reports show the effective config): stable and plain."""
    config = {"services": {"web": {"ports": ["8080"], "container_name": "web"}}}

    text = harness_override(config, {"b": "2", "a": "1"}, images={"web": "app-web:it-0"})

    assert text == HEADER + (
        "services:\n"
        "  web:\n"
        "    container_name: !reset ''\n"
        "    image: app-web:it-0\n"
        "    labels:\n"
        "      a: '1'\n"
        "      b: '2'\n"
        "    ports: !override\n"
        "    - 127.0.0.1::8080\n"
    )


@pytest.mark.parametrize(
    ("tagged", "text"),
    [
        pytest.param(Tagged("!reset", None), "!reset ''\n", id="reset-empty"),
        pytest.param(Tagged("!override", "x"), "!override 'x'\n", id="override-scalar"),
        pytest.param(Tagged("!override", 8080), "!override '8080'\n", id="override-number-as-text"),
    ],
)
def test_scalar_tags_are_written_with_their_value(tagged: Tagged, text: str) -> None:
    assert yaml.dump(tagged, Dumper=_Dumper) == text


def test_only_the_services_the_harness_builds_are_built_with_the_image_labels() -> None:
    """Issue 24 §10: the prune acts only on images labelled with its checkout."""
    config = {
        "services": {
            "web": {"build": {"context": "/app"}, "image": "app-web"},
            "cached": {"image": "app-cached"},  # built elsewhere: in `images`, no `build:` here
            "db": {"image": "postgres:16"},
        }
    }
    images = {"web": "app-web:it-" + "a" * 16, "cached": "app-cached:it-" + "b" * 16}
    image_labels = {"io.microstack.harness": "1", "io.microstack.checkout": "0123456789abcdef"}

    services = override(config, images=images, image_labels=image_labels)["services"]

    assert services["web"]["build"] == {"labels": image_labels}
    assert "build" not in services["cached"]
    assert "build" not in services["db"]
    assert "build" not in override(config, images=images)["services"]["web"]


def test_extend_gets_the_override_as_data_and_what_it_returns_is_written() -> None:
    """The exchanges' proxies enter this way (`_engine.proxy_wiring`): last, over what the harness wrote."""
    config = {"services": {"api": {"ports": ["8080"]}}}
    received: list[dict[str, Any]] = []

    def extend(data: dict[str, Any]) -> dict[str, Any]:
        received.append(copy.deepcopy(data))
        data["services"]["api"]["ports"] = Tagged("!reset", [])
        data["services"]["api--proxy"] = {"image": "proxy", "ports": ["127.0.0.1::8080"]}
        return data

    parsed = override(config, extend=extend)

    assert received == [
        build_override(config, LABELS, images={}, ports={}, host_ip="127.0.0.1", parallel_start=False)
    ]
    assert parsed["services"] == {
        "api": {"labels": LABELS, "ports": Tag("!reset", [])},
        "api--proxy": {"image": "proxy", "ports": ["127.0.0.1::8080"]},
    }
