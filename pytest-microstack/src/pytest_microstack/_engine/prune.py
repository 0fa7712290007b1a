"""Remove the images the harness tagged and no longer needs.

The harness tags each built service's image `<repository>:it-<digest of its
inputs>`, so every change of a service's inputs leaves the previous tag behind.
Per repository, the newest tag is kept (the one the checkout's next run is most
likely to use: if not, it is rebuilt, never run stale), and so is every tag
whose image a container uses (a kept stack, a run in progress); the others are
untagged, which removes the image once no tag names it. Repositories named
like a per-run project (`microstack-it-...`, from versions before images were
named by the compose project) are never reused: none of their tags is kept
unless in use. Tags without the harness's `it-<16 hex>` form are never touched.

Only images the harness built for this checkout are considered: they carry the
harness label and this checkout's id (`ownership.image_labels`). Two clones of
one project build images of the same repository: one clone's prune must not
untag what the other runs next. Images of older versions (no labels) are left.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import docker.errors

from pytest_microstack._engine.images import TAG_PREFIX
from pytest_microstack._ownership import HARNESS_LABEL, PROJECT_PREFIX, image_labels

_RFC3339 = re.compile(r"^(?P<whole>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d+))?Z$")
HARNESS_TAG = re.compile(rf"^(?P<repository>.+):{TAG_PREFIX}[0-9a-f]{{16}}$")


@dataclass
class Pruned:
    """The harness's tags removed, and those kept (newest of their repository, or in use)."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def stale_tags(client: Any, repositories: Collection[str] = (), *, root: Path | None = None) -> Pruned:
    """Which of the harness's tags of the checkout at `root` (default: here) would be removed and which kept.

    Nothing is removed here.
    """
    in_use = {
        container.attrs.get("Image") for container in client.containers.list(all=True, ignore_removed=True)
    }
    ours = image_labels(root or Path.cwd())
    by_repository: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    for image in client.images.list(filters={"label": HARNESS_LABEL}):
        labels = image.attrs.get("Labels") or (image.attrs.get("Config") or {}).get("Labels") or {}
        if any(labels.get(key) != value for key, value in ours.items()):
            continue  # another checkout's, or not the harness's
        for tag in image.tags:
            match = HARNESS_TAG.match(tag)
            if match and (not repositories or match["repository"] in repositories):
                created = _seconds(image.attrs.get("Created"))
                by_repository[match["repository"]].append((created, image.id, tag))
    plan = Pruned()
    for repository, tags in by_repository.items():
        tags.sort(reverse=True)  # newest first
        newest = None if repository.startswith(PROJECT_PREFIX) else tags[0][1]
        for _, image_id, tag in tags:
            (plan.kept if image_id in in_use or image_id == newest else plan.removed).append(tag)
    return plan


def _seconds(created: object) -> float:
    """An image's creation time: the list API's seconds, or inspect's RFC 3339 text (nanoseconds, Z)."""
    if isinstance(created, int | float):
        return float(created)
    match = _RFC3339.match(str(created or ""))
    if match is None:
        return 0.0  # unknown: oldest, so never the one kept as newest
    whole = datetime.fromisoformat(match["whole"]).replace(tzinfo=UTC).timestamp()
    return whole + float(f"0.{match['fraction'] or 0}")


def prune_images(
    client: Any, repositories: Collection[str] = (), *, root: Path | None = None, dry_run: bool = False
) -> Pruned:
    """Remove the tags `stale_tags` names; one a container started using meanwhile is kept."""
    plan = stale_tags(client, repositories, root=root)
    if dry_run:
        return plan
    done = Pruned(kept=list(plan.kept))
    for tag in plan.removed:
        try:
            client.images.remove(tag)
        except docker.errors.ImageNotFound:
            continue  # another prune got there first
        except docker.errors.APIError as error:
            if error.status_code != HTTPStatus.CONFLICT:
                raise
            done.kept.append(tag)  # a container uses it now
            continue
        done.removed.append(tag)
    return done
