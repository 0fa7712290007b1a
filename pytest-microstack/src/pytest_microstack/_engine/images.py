"""Build the stack's images once per change, not once per run or per worker.

Every service that compose builds gets an image tagged with a digest of what
goes into it: the files of its build context that .dockerignore lets through,
its Dockerfile, build arguments and target, and the ids of the local images its
arguments or FROM lines name. A tag that exists is up to date, so a warm run
skips the build entirely, and a stale image can never run under a fixed tag. A
file lock makes concurrent runs and xdist workers wait for one build.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import yaml
from docker.utils.build import exclude_paths
from filelock import FileLock

from pytest_microstack._engine.compose import ProjectCompose
from pytest_microstack._engine.engine import engine_info
from pytest_microstack._errors import StackConfigError

TAG_PREFIX = "it-"
DEFAULT_REGISTRY = "docker.io"
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{12,64}")
# An image reference as the engines parse it: [registry[:port]/]path[:tag][@digest], path lowercase.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
_NOT_IN_PROJECT_NAME = re.compile(r"[^a-z0-9_-]")
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ImagePlan:
    """Which image each built service runs, by the digest of its inputs."""

    images: dict[str, str]

    @property
    def tag(self) -> str:
        """One digest of every image, for --reuse-stack to match configurations on."""
        return hashlib.sha256(json.dumps(sorted(self.images.items())).encode()).hexdigest()[:16]


def context_digest(context: Path, dockerfile: str = "Dockerfile") -> str:
    """Digest of the files `docker build` would send: .dockerignore applied as docker-py does."""
    ignore = context / ".dockerignore"
    patterns = [
        line.strip()
        for line in (ignore.read_text().splitlines() if ignore.is_file() else [])
        if line.strip() and not line.startswith("#")
    ]
    digest = hashlib.sha256()
    for relative in sorted(exclude_paths(str(context), patterns, dockerfile=dockerfile)):
        path = context / relative
        if path.is_file() and not path.is_symlink():
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _has_registry(name: str) -> bool:
    first, slash, _ = name.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def full_name(name: str) -> str:
    """The fully qualified form of an image reference: docker.io/library/python:3.11 for python:3.11.

    Ids (`sha256:…`) are returned as they are.
    """
    if _IMAGE_ID.fullmatch(name):
        return name
    remainder, at, digest = name.partition("@")
    if _has_registry(remainder):
        registry, path = remainder.split("/", 1)
    else:
        registry, path = DEFAULT_REGISTRY, remainder
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if not at and ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{registry}/{path}{at}{digest}"


def exact_names(name: str, *, podman: bool) -> list[str]:
    """The names an image reference may have locally, each unambiguous, in the engine's order.

    The fully qualified name on both engines; on Podman first its `localhost/`
    name for a reference without a registry (what `podman build -t` and
    `podman load` of an unqualified name store). Never a bare short name: Podman
    resolves `python:3.11` to any local image whose name ends in `/python:3.11`.
    """
    if _IMAGE_ID.fullmatch(name):
        return [name]
    names = [full_name(name)]
    if podman and not _has_registry(name):
        tagged = name if "@" in name or ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
        names.insert(0, f"localhost/{tagged}")
    return names


def image_id(engine: Any, name: str) -> str:
    """The id of the local image a reference names, or "" when it isn't there (or isn't a name).

    Looked up by exact names only (see `exact_names`), so that the digest hashes
    the very base the engine builds from, on Docker and Podman alike.
    """
    if not _REFERENCE.fullmatch(name):
        return ""  # names with variables left in them (FROM ${BASE}), or not image names at all
    try:
        podman = engine_info(engine).is_podman
    except docker.errors.APIError:
        podman = False
    for candidate in exact_names(name, podman=podman):
        try:
            return str(engine.images.get(candidate).id)
        except (docker.errors.ImageNotFound, docker.errors.InvalidRepository):
            continue
        except docker.errors.APIError:
            return ""
    return ""


def _dockerfile(build: Mapping[str, Any], context: Path) -> Path:
    name = build.get("dockerfile") or "Dockerfile"
    path = Path(name)
    return path if path.is_absolute() else context / path


def service_digest(
    service: str, build: Mapping[str, Any], engine: Any, contexts: dict[tuple[str, str], str]
) -> str:
    """The digest of one service's build inputs (contexts are hashed once per call)."""
    if "context" not in build:
        raise StackConfigError(service, "build.context", "no build context: compose could not resolve it")
    context = Path(build["context"])
    if not context.is_dir():
        raise StackConfigError(
            service, "build.context", f"{context} is not a local folder (remote contexts are not supported)"
        )
    dockerfile = _dockerfile(build, context)
    if not dockerfile.is_file():
        raise StackConfigError(service, "build.dockerfile", f"{dockerfile} does not exist")
    key = (str(context), str(dockerfile))
    if key not in contexts:
        # A Dockerfile outside the context is hashed below, with its content.
        inside = dockerfile.is_relative_to(context)
        contexts[key] = context_digest(
            context, str(dockerfile.relative_to(context)) if inside else "Dockerfile"
        )
    args = {str(k): "" if v is None else str(v) for k, v in (build.get("args") or {}).items()}
    referenced = set(args.values()) | set(_FROM.findall(dockerfile.read_text()))
    bases = sorted(image_id(engine, name) for name in referenced if name and "$" not in name)
    digest = hashlib.sha256()
    for part in (
        contexts[key],
        dockerfile.read_text(),
        json.dumps(args, sort_keys=True),
        str(build.get("target")),
    ):
        digest.update(part.encode() + b"\0")
    digest.update("".join(bases).encode())
    return digest.hexdigest()[:16]


def own_project_name(compose_paths: Sequence[Path]) -> str:
    """The name compose gives the project of these files when no -p is given.

    The last top-level `name:` among the files (one with a variable in it is
    skipped: compose would need the environment), else the first file's
    folder; normalised as compose does (lowercase; letters, digits, `_`, `-`;
    no leading `_` or `-`). Not the per-run project: image names must not
    depend on the run or the xdist worker.
    """
    name = ""
    for path in compose_paths:
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue  # compose reports it when it reads the files
        declared = data.get("name") if isinstance(data, dict) else None
        if isinstance(declared, str) and "$" not in declared:
            name = declared
    if not name and compose_paths:
        name = Path(compose_paths[0]).resolve().parent.name
    return _NOT_IN_PROJECT_NAME.sub("", name.lower()).lstrip("_-") or "stack"


def image_repository(project_name: str, service: str, spec: Mapping[str, Any]) -> str:
    """The project's own image name without its tag, else compose's default `<project>-<service>`."""
    image = str(spec.get("image") or "")
    if image:
        last = image.rsplit("/", 1)[-1]
        return image.rsplit(":", 1)[0] if ":" in last else image
    return f"{project_name}-{service}".lower()


def plan_images(config: Mapping[str, Any], engine: Any, project_name: str | None = None) -> ImagePlan:
    """The image each service with `build:` will run: its repository, tagged by its digest.

    `project_name` names the images of services without `image:`
    (`<project_name>-<service>`): pass `own_project_name(...)`, never the
    per-run project. Without it, the config's own `name`.
    """
    project_name = project_name or str(config.get("name") or "stack")
    contexts: dict[tuple[str, str], str] = {}
    images = {}
    for service, spec in (config.get("services") or {}).items():
        build = spec.get("build")
        if not build:
            continue
        digest = service_digest(service, build, engine, contexts)
        images[service] = f"{image_repository(project_name, service, spec)}:{TAG_PREFIX}{digest}"
    return ImagePlan(images)


def ensure_images(compose: ProjectCompose, engine: Any, plan: ImagePlan, lock_path: Path) -> list[str]:
    """Build the services whose tagged image is missing; returns the services built."""
    with FileLock(str(lock_path)):
        missing = [service for service, image in plan.images.items() if not image_id(engine, image)]
        if missing:
            compose.build_images(missing)
        return missing
