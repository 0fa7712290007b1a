"""`docker compose config`, cached on disk by everything that can change it.

The harness reads the stack's structure (services, images, build arguments,
networks, volumes) at every start. Asking compose costs ~0.15 s, a tenth of a
warm start, and its answer only changes when the compose files, the .env file
or a variable they use changes: those are the cache key. The cache lives in the
private state folder: a planted config would run with the user's Docker rights.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_microstack._engine.compose import ProjectCompose
from pytest_microstack._state_dir import read_private, state_dir, write_private

_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def cache_key(files: Sequence[Path], environment: Mapping[str, str]) -> str:
    """Digest of the files (where they are and what they hold), the .env beside the first,
    and the variables they name. Where matters: the config holds absolute paths
    (build contexts, bind mounts), so two copies of a project never share an entry."""
    texts = [path.read_bytes() for path in files]
    dotenv = files[0].parent / ".env"
    if dotenv.is_file():
        texts.append(dotenv.read_bytes())
    names = sorted({name for text in texts for name in _VARIABLE.findall(text.decode(errors="replace"))})
    values = {name: environment.get(name, os.environ.get(name)) for name in names}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode())
    digest.update("\0".join(str(path.resolve()) for path in files).encode() + b"\0")
    for text in texts:
        digest.update(text + b"\0")
    return digest.hexdigest()[:24]


def load_config(
    compose: ProjectCompose, files: Sequence[Path], cache_dir: Path | None = None
) -> dict[str, Any]:
    """The compose config for these files, from the cache when nothing changed."""
    folder = cache_dir or state_dir()
    path = folder / f"config-{cache_key(files, compose.environment)}.json"
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
