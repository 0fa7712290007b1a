"""`docker compose config`, cached on disk by everything that can change it.

The harness reads the stack's structure (services, images, build arguments,
networks, volumes) at every start. Asking compose costs ~0.15 s, a tenth of a
warm start, and its answer only changes when a file compose reads or a
variable it reads changes. Those are the cache key, all of them: the compose
files and, followed recursively, the files they pull in (`include:`,
`extends: file:`, `env_file:`), the project's `.env` (and COMPOSE_ENV_FILES),
every `COMPOSE_*` variable and every variable any of those files names.
Where that set can't be known without compose (a remote include, a variable
in a path, a file that doesn't parse), there is no key: compose is asked.
The cache lives in the private state folder: a planted config would run with
the user's Docker rights.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pytest_microstack._engine.compose import ProjectCompose
from pytest_microstack._state_dir import read_private, state_dir, write_private

_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
COMPOSE_PREFIX = "COMPOSE_"
MISSING = b"\0missing\0"


class Unkeyable(Exception):
    """An input whose place compose alone knows (remote include, variable in a path, unparseable file)."""


def _entries(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _local(text: object, *bases: Path) -> Iterator[Path]:
    """Where a path written in a compose file may point: relative to each candidate base folder."""
    path = str(text)
    if "$" in path or "://" in path or path.startswith(("git@", "oci:")):
        raise Unkeyable(path)
    for base in bases:
        yield (base / os.path.expanduser(path)).resolve()


def _referenced(path: Path, data: Mapping[str, Any], project_dir: Path) -> Iterator[tuple[Path, bool]]:
    """The files one compose file makes compose read, each with whether it is a compose file.

    Includes and extended files are compose files (followed in turn); env
    files are not. A relative path is taken from the file's folder and from
    the project's (and an include's project_directory): reading one file too
    many only makes the key stricter.
    """
    bases = (path.parent, project_dir)
    for include in _entries(data.get("include")):
        spec = include if isinstance(include, Mapping) else {"path": include}
        own = tuple(_local(spec["project_directory"], *bases)) if spec.get("project_directory") else ()
        for target in _entries(spec.get("path")):
            for found in _local(target, *bases):
                yield found, True
                yield found.parent / ".env", False
        for env_file in _entries(spec.get("env_file")):
            yield from ((found, False) for found in _local(env_file, *bases, *own))
    for service in (data.get("services") or {}).values():
        if not isinstance(service, Mapping):
            continue
        extends = service.get("extends")
        if isinstance(extends, Mapping) and extends.get("file"):
            yield from ((found, True) for found in _local(extends["file"], *bases))
        for env_file in _entries(service.get("env_file")):
            name = env_file.get("path") if isinstance(env_file, Mapping) else env_file
            yield from ((found, False) for found in _local(name, *bases))


def config_inputs(files: Sequence[Path], environment: Mapping[str, str]) -> dict[Path, bytes]:
    """Every file `compose config` reads for these compose files, with its content (MISSING if absent).

    Raises Unkeyable when the set can't be known without compose.
    """
    project_dir = files[0].parent.resolve()
    pending = [(path.resolve(), True) for path in files]
    pending.append((project_dir / ".env", False))
    env_files = environment.get("COMPOSE_ENV_FILES", os.environ.get("COMPOSE_ENV_FILES", ""))
    pending += [((project_dir / name).resolve(), False) for name in env_files.split(",") if name.strip()]
    read: dict[Path, bytes] = {}
    while pending:
        path, is_compose = pending.pop(0)
        if path in read:
            continue
        read[path] = path.read_bytes() if path.is_file() else MISSING
        if not is_compose or not path.is_file():
            continue
        try:
            data = yaml.safe_load(read[path]) or {}
        except yaml.YAMLError as error:
            raise Unkeyable(f"{path}: {error}") from None
        if isinstance(data, Mapping):
            pending += list(_referenced(path, data, project_dir))
    return read


def _variables(texts: Iterable[bytes], environment: Mapping[str, str]) -> dict[str, str | None]:
    """Every variable the files name, and every COMPOSE_* one, as compose's process would see them."""
    merged = {**os.environ, **environment}
    names = {name for text in texts for name in _VARIABLE.findall(text.decode(errors="replace"))}
    names |= {name for name in merged if name.startswith(COMPOSE_PREFIX)}
    return {name: merged.get(name) for name in sorted(names)}


def cache_key(files: Sequence[Path], environment: Mapping[str, str]) -> str | None:
    """Digest of every input of `compose config` (None: they can't all be known; don't cache).

    Where each file is counts too: the config holds absolute paths (build
    contexts, bind mounts), so two copies of a project never share an entry.
    """
    try:
        inputs = config_inputs(files, environment)
    except Unkeyable:
        return None
    digest = hashlib.sha256(json.dumps(_variables(inputs.values(), environment), sort_keys=True).encode())
    digest.update("\0".join(str(path.resolve()) for path in files).encode() + b"\0")
    for path, content in inputs.items():
        digest.update(str(path).encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:24]


def load_config(
    compose: ProjectCompose, files: Sequence[Path], cache_dir: Path | None = None
) -> dict[str, Any]:
    """The compose config for these files, from the cache when nothing changed."""
    key = cache_key(files, compose.environment)
    if key is None:
        return compose.get_config()
    folder = cache_dir or state_dir()
    path = folder / f"config-{key}.json"
    try:
        cached: dict[str, Any] = json.loads(read_private(path))
        return cached
    except FileNotFoundError:
        pass
    except ValueError:
        pass  # half-written by a run killed mid-write: read it again
    config = compose.get_config()
    write_private(path, json.dumps(config).encode())
    return config
