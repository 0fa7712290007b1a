"""Read compose YAML as compose does, `!override` and `!reset` included, for checking overrides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Tag:
    """A node carrying one of compose's merge tags: `!override` replaces, `!reset` removes."""

    tag: str
    value: Any


class ComposeLoader(yaml.SafeLoader):
    """SafeLoader that also reads compose's `!override` and `!reset` tags; any other tag fails."""


def _construct_tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Tag:
    value: Any
    if isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        assert isinstance(node, yaml.ScalarNode)
        value = loader.construct_scalar(node)
    return Tag(node.tag, value)


for _tag in ("!override", "!reset"):
    ComposeLoader.add_constructor(_tag, _construct_tagged)


def load_compose(text: str) -> dict[str, Any]:
    """One compose file's top-level mapping."""
    loaded = yaml.load(text, Loader=ComposeLoader)
    assert isinstance(loaded, dict), f"not a mapping: {text!r}"
    return loaded


def untagged(value: Any) -> Any:
    """The value with compose's tags dropped (what it says, not how it merges)."""
    if isinstance(value, Tag):
        return untagged(value.value)
    if isinstance(value, dict):
        return {key: untagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [untagged(item) for item in value]
    return value
