"""--stack-coverage on a remote engine: the volume override, the seed archive and the data read back."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import yaml
from pytest_microstack._coverage import agent, runtime
from pytest_microstack._coverage.contexts import CONTEXT_PORT
from pytest_microstack._coverage.through_api import (
    RUNTIME_KEY,
    extract_data,
    seed_archive,
    volume_names,
    volume_override,
)


def test_volume_names_are_the_projects_own() -> None:
    runtime_volume, data = volume_names("microstack-it-ab-gw0", ["api", "db"])
    assert runtime_volume == "microstack-it-ab-gw0-microstack-coverage"
    assert data == {
        "api": "microstack-it-ab-gw0-microstack-coverage-api",
        "db": "microstack-it-ab-gw0-microstack-coverage-db",
    }


def test_override_mounts_volumes_not_folders_and_keeps_pythonpath() -> None:
    services = {"api": {"environment": {"PYTHONPATH": "/app"}}, "db": {}}
    text = volume_override(
        services,
        ["api"],
        runtime_volume="p-microstack-coverage",
        data_volumes={"api": "p-microstack-coverage-api"},
        image_envs={},
        publish_ip="",
    )
    document = yaml.safe_load(text)
    api = document["services"]["api"]
    assert api["environment"] == {
        "PYTHONPATH": f"{runtime.LIB}:/app",
        "COVERAGE_PROCESS_START": runtime.RCFILE,
        agent.PORT_ENV: str(CONTEXT_PORT),
        agent.STATE_ENV: f"{runtime.DATA}/context",
    }
    assert api["ports"] == [f"::{CONTEXT_PORT}"]  # per-test contexts, on the engine's host
    assert [volume["type"] for volume in api["volumes"]] == ["volume", "volume"]
    assert {(v["source"], v["target"]) for v in api["volumes"]} == {
        (RUNTIME_KEY, runtime.MOUNT_ROOT),
        (f"{RUNTIME_KEY}-api", runtime.DATA),
    }
    assert document["volumes"] == {
        RUNTIME_KEY: {"external": True, "name": "p-microstack-coverage"},
        f"{RUNTIME_KEY}-api": {"external": True, "name": "p-microstack-coverage-api"},
    }
    assert "db" not in document["services"]


def test_seed_archive_lays_out_runtime_rcfile_and_writable_data_folders(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("# start coverage\n")
    data = seed_archive(tmp_path, "[run]\nparallel = True\n", ["api"])
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = {member.name: member for member in archive.getmembers()}
        rcfile = archive.extractfile(members["runtime/coveragerc"])
        assert rcfile is not None
        assert rcfile.read() == b"[run]\nparallel = True\n"
    assert members["runtime/lib/sitecustomize.py"].uid == 0
    assert members["runtime/data"].isdir()
    assert members["data-api"].isdir()
    assert members["data-api"].mode == 0o777


def _archive(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_extract_keeps_only_data_and_markers_by_base_name(tmp_path: Path) -> None:
    chunks = [
        _archive(
            {
                "data/.coverage.host.1.abc": b"data",
                f"data/{runtime.PROCESS_MARKER}7": b"marker",
                "data/../../etc/.coverage.evil": b"outside",
                "data/notes.txt": b"other",
            }
        )
    ]
    assert extract_data(chunks, tmp_path) == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".coverage.evil",
        ".coverage.host.1.abc",
        f"{runtime.PROCESS_MARKER}7",
    ]
    assert (tmp_path / ".coverage.evil").read_bytes() == b"outside"  # written inside, by its base name
