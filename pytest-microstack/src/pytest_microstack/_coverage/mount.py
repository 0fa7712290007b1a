"""What the compose override adds to each measured service, and the rcfile coverage starts with.

Per service: the runtime folder (read-only), the rcfile (read-only) and a data
folder of its own, writable by any user (mode 0777: services run as whatever
user their image says), mounted at the same paths in every container. So a
read-only root filesystem is no obstacle, and a container recreated by a heal
writes into the same folder. PYTHONPATH gets the runtime folder in front of what
the service or its image already sets; COVERAGE_PROCESS_START names the rcfile.
"""

from __future__ import annotations

import configparser
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pytest_microstack._coverage import runtime

HEADER = "# Written by pytest-microstack for --stack-coverage; not for editing.\n"
# [run] settings of the project's own coverage configuration that mean the same in a container.
PASSED_THROUGH = ("branch", "concurrency", "omit", "source_pkgs", "timid")


def image_pythonpath(image_env: Iterable[str]) -> str | None:
    """PYTHONPATH from an image's `Config.Env` ("KEY=VALUE" strings), if it sets one."""
    for entry in image_env:
        key, _, value = entry.partition("=")
        if key == "PYTHONPATH":
            return value
    return None


def service_pythonpath(service: Mapping[str, Any], image_env: Iterable[str]) -> str:
    """PYTHONPATH with the runtime folder first, keeping the service's (compose, else image) own."""
    environment = service.get("environment") or {}
    own = environment.get("PYTHONPATH") if isinstance(environment, Mapping) else None
    if own is None:
        own = image_pythonpath(image_env)
    return f"{runtime.LIB}:{own}" if own else runtime.LIB


def rcfile_text(run_settings: Mapping[str, Any]) -> str:
    """The [run] section the containers' coverage starts with.

    parallel (one data file per process), the data folder, sigterm (a process
    stopped with SIGTERM saves first), patch=fork (a forked worker measures on
    its own, as gunicorn's do) and _exit (os._exit saves too), plus the
    project's own settings that mean the same inside a container.
    """
    parser = configparser.ConfigParser(interpolation=None)
    section: dict[str, str] = {
        "parallel": "True",
        "data_file": f"{runtime.DATA}/.coverage",
        "sigterm": "True",
        "patch": "fork\n_exit",
        "disable_warnings": "no-data-collected\nmodule-not-measured\nmodule-not-imported\ncouldnt-parse",
    }
    for name in PASSED_THROUGH:
        value = run_settings.get(name)
        if value in (None, [], ""):
            continue
        section[name] = "\n".join(map(str, value)) if isinstance(value, list) else str(value)
    # The runtime itself (the sitecustomize's last lines run measured) is never the service's code.
    section["omit"] = "\n".join(filter(None, [section.get("omit", ""), f"{runtime.MOUNT_ROOT}/*"]))
    parser["run"] = section
    out = io.StringIO()
    parser.write(out)
    return "# Written by pytest-microstack for --stack-coverage; not for editing.\n" + out.getvalue()


def coverage_override(
    services: Mapping[str, Mapping[str, Any]],
    measured: Iterable[str],
    *,
    runtime_dir: Path,
    rcfile: Path,
    data_dirs: Mapping[str, Path],
    image_envs: Mapping[str, Iterable[str]],
    publish_ip: str = "127.0.0.1",
) -> str:
    """The override's YAML: mounts and environment for each measured service.

    Also the port of its per-test contexts (`contexts.CONTEXT_PORT`), published
    on a random host port like the services' own.
    """
    from pytest_microstack._coverage import agent
    from pytest_microstack._coverage.contexts import CONTEXT_PORT

    entries: dict[str, Any] = {}
    for name in measured:
        entries[name] = {
            "environment": {
                "PYTHONPATH": service_pythonpath(services[name], image_envs.get(name, ())),
                "COVERAGE_PROCESS_START": runtime.RCFILE,
                agent.PORT_ENV: str(CONTEXT_PORT),
                agent.STATE_ENV: f"{runtime.DATA}/context",
            },
            "ports": [f"{publish_ip}::{CONTEXT_PORT}"],
            "volumes": [
                {"type": "bind", "source": str(runtime_dir), "target": runtime.LIB, "read_only": True},
                {"type": "bind", "source": str(rcfile), "target": runtime.RCFILE, "read_only": True},
                {"type": "bind", "source": str(data_dirs[name]), "target": runtime.DATA},
            ],
        }
    return HEADER + yaml.safe_dump({"services": entries}, sort_keys=True, default_flow_style=False)


def make_data_dir(path: Path) -> Path:
    """A data folder any container user can write to.

    Not sticky (unlike /tmp): the test user, who owns it, must be able to remove
    the files a service's user wrote there. No other user of this machine can
    reach it: it is inside the private state folder.
    """
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path
