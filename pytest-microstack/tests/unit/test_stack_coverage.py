"""_coverage: the runtime mounted into containers, the override, the checks and the mapping.

The runtime is exercised for real in subprocesses of this Python (as a container's
Python would run it): coverage starts from the sitecustomize, forked children and
SIGTERM save their data, and a Python too old is reported, not run.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import time
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any

import coverage
import pytest
import yaml
from coverage import CoverageData
from pytest_microstack._coverage import collect, mount, runtime
from pytest_microstack._coverage.collect import ProcessMarker
from pytest_microstack._coverage.combine import Destination, combine, warn_unmapped
from pytest_microstack._coverage.measurement import Measurement, measured_services
from pytest_microstack._engine.engine import Engine
from pytest_microstack._errors import StackCoverageError, StackCoverageWarning
from pytest_microstack._settings import StackSettings, TeardownPolicy

DEADLINE = 20.0  # seconds for a subprocess to start coverage or save its data
# The interpreter this venv was made from: no coverage installed (no coverage .pth), as in an image.
BARE_PYTHON = Path(sys.base_prefix) / "bin" / "python3"


def rcfile(tmp_path: Path, **run_settings: Any) -> Path:
    """The generated rcfile, pointed at a data folder under tmp_path instead of the container's."""
    text = mount.rcfile_text(run_settings).replace(runtime.DATA, str(tmp_path / "data"))
    path = tmp_path / "coveragerc"
    path.write_text(text)
    (tmp_path / "data").mkdir(exist_ok=True)
    return path


def test_coverage_reads_the_generated_rcfile_as_meant(tmp_path: Path) -> None:
    path = rcfile(tmp_path, branch=True, omit=["*/settings.py"], source_pkgs=["app"])

    config = coverage.Coverage(config_file=str(path)).config

    assert config.parallel is True
    assert config.sigterm is True
    assert sorted(config.patch) == ["_exit", "fork"]
    assert config.branch is True
    assert config.source_pkgs == ["app"]
    assert config.run_omit == ["*/settings.py", f"{runtime.MOUNT_ROOT}/*"]
    assert config.data_file == str(tmp_path / "data" / ".coverage")


def test_the_rcfile_measures_lines_when_the_project_does() -> None:
    text = mount.rcfile_text({"branch": False})
    assert "branch = False" in text


@pytest.mark.parametrize(
    ("service", "image_env", "expected"),
    [
        pytest.param({}, [], runtime.LIB, id="none"),
        pytest.param({}, ["PATH=/bin", "PYTHONPATH=/app"], f"{runtime.LIB}:/app", id="image"),
        pytest.param(
            {"environment": {"PYTHONPATH": "/srv"}}, ["PYTHONPATH=/app"], f"{runtime.LIB}:/srv", id="compose"
        ),
    ],
)
def test_pythonpath_puts_the_runtime_first_and_keeps_the_services_own(
    service: dict[str, Any], image_env: list[str], expected: str
) -> None:
    assert mount.service_pythonpath(service, image_env) == expected


def test_override_mounts_runtime_and_rcfile_read_only_and_a_data_folder_per_service(tmp_path: Path) -> None:
    text = mount.coverage_override(
        {"api": {}, "db": {}},
        ["api"],
        runtime_dir=tmp_path / "rt",
        rcfile=tmp_path / "rc",
        data_dirs={"api": tmp_path / "data" / "api"},
        image_envs={"api": ["PYTHONPATH=/app"]},
    )

    services = yaml.safe_load(text)["services"]
    assert list(services) == ["api"]  # only measured services are touched
    volumes = {volume["target"]: volume for volume in services["api"]["volumes"]}
    assert volumes[runtime.LIB]["read_only"] is True
    assert volumes[runtime.RCFILE]["read_only"] is True
    assert volumes[runtime.DATA]["source"] == str(tmp_path / "data" / "api")
    assert "read_only" not in volumes[runtime.DATA]
    assert services["api"]["environment"] == {
        "PYTHONPATH": f"{runtime.LIB}:/app",
        "COVERAGE_PROCESS_START": runtime.RCFILE,
        "MICROSTACK_CONTEXT_PORT": "45517",
        "MICROSTACK_CONTEXT_STATE": f"{runtime.DATA}/context",
    }
    assert services["api"]["ports"] == ["127.0.0.1::45517"]  # per-test contexts, on a random host port


def test_data_folders_are_writable_by_any_user(tmp_path: Path) -> None:
    folder = mount.make_data_dir(tmp_path / "data" / "api")
    assert folder.stat().st_mode & 0o7777 == 0o777  # not sticky: the test user removes what services wrote


@pytest.fixture
def runtime_dir(tmp_path: Path) -> Path:
    (tmp_path / "state").mkdir()
    return runtime.build_runtime(tmp_path / "state")


def run_under_runtime(
    runtime_dir: Path, tmp_path: Path, script: str, **run_settings: Any
) -> subprocess.Popen[bytes]:
    program = tmp_path / "app.py"
    program.write_text(script)
    env = {
        **os.environ,
        "PYTHONPATH": str(runtime_dir),
        "COVERAGE_PROCESS_START": str(rcfile(tmp_path, **run_settings)),
        runtime.DATA_ENV: str(tmp_path / "data"),
    }
    return subprocess.Popen([str(BARE_PYTHON), str(program)], env=env, cwd=tmp_path)


def measured_lines(data_dir: Path, program: Path) -> set[int]:
    lines: set[int] = set()
    for path in collect.data_files(data_dir):
        with closing(CoverageData(basename=str(path))) as data:
            data.read()
            lines |= set(data.lines(str(program)) or [])
    return lines


def test_runtime_is_readable_by_any_user_and_built_once(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    first = runtime.build_runtime(tmp_path / "state")
    assert runtime.build_runtime(tmp_path / "state") == first
    assert (first / "coverage" / "__init__.py").stat().st_mode & 0o777 == 0o644
    assert first.stat().st_mode & 0o777 == 0o755


def test_every_process_starts_coverage_and_a_forked_child_saves_its_own_lines(
    runtime_dir: Path, tmp_path: Path
) -> None:
    script = (
        "import os\n"
        "def in_parent():\n"
        "    return 1\n"
        "def in_child():\n"
        "    return 2\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    in_child()\n"
        "    os._exit(0)\n"  # as multiprocessing's children leave: no atexit, only the _exit patch saves
        "os.waitpid(pid, 0)\n"
        "in_parent()\n"
    )
    process = run_under_runtime(runtime_dir, tmp_path, script)
    assert process.wait(timeout=DEADLINE) == 0

    markers = collect.read_markers(tmp_path / "data")
    assert [marker.status for marker in markers] == ["started"]
    assert markers[0].python == ".".join(map(str, sys.version_info[:3]))
    # Parent and child save apart (coverage's _exit patch also saves the parent's pre-fork
    # data again from the child: a duplicate, harmless when combined).
    assert len(collect.data_files(tmp_path / "data")) >= 2
    lines = measured_lines(tmp_path / "data", tmp_path / "app.py")
    # in_child's body (5) ran only in the child. (The child's own module-level lines after the
    # fork are not seen: coverage restarts in the child, and the running frame isn't re-traced.)
    assert {3, 5, 11} <= lines


def test_a_process_stopped_with_sigterm_saves_its_data(runtime_dir: Path, tmp_path: Path) -> None:
    script = "import time\nbefore = 1\nwhile True:\n    time.sleep(0.05)\n"
    process = run_under_runtime(runtime_dir, tmp_path, script)
    try:
        deadline = time.monotonic() + DEADLINE
        while not collect.read_markers(tmp_path / "data"):
            assert time.monotonic() < deadline, "coverage never started"
            time.sleep(0.05)  # polling for the process's marker under the deadline
        time.sleep(0.2)  # let it reach its loop: the lines before it are what must be saved
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=DEADLINE)
    finally:
        process.kill()
    assert {2, 3} <= measured_lines(tmp_path / "data", tmp_path / "app.py")


def test_a_python_older_than_coverage_supports_is_reported_and_left_unmeasured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "minimum_python", lambda: (sys.version_info[0], sys.version_info[1] + 1))
    (tmp_path / "state").mkdir()
    built = runtime.build_runtime(tmp_path / "state")
    process = run_under_runtime(built, tmp_path, "print('served')\n")

    assert process.wait(timeout=DEADLINE) == 0  # the service itself still runs
    (marker,) = collect.read_markers(tmp_path / "data")
    assert marker.status == "unsupported"
    assert f"needs Python >= {sys.version_info[0]}.{sys.version_info[1] + 1}" in marker.detail
    assert collect.data_files(tmp_path / "data") == []


def test_an_unsupported_python_fails_the_start_naming_service_and_version() -> None:
    old = ProcessMarker("unsupported", "3.9.18", "/usr/bin/python3", "coverage 7.17.5 needs Python >= 3.11")
    expected = (
        r"service 'legacy': coverage did not start under Python 3\.9\.18 \(/usr/bin/python3\).*>= 3\.11"
    )
    with pytest.raises(StackCoverageError, match=expected):
        collect.check_started({"legacy": [old], "api": [ProcessMarker("started", "3.11.7", "", "")]}, [])


def test_a_service_without_python_is_returned_or_refused_when_named() -> None:
    markers = {"api": [ProcessMarker("started", "3.11.7", "", "")], "db": []}
    assert collect.check_started(markers, []) == ["db"]
    with pytest.raises(StackCoverageError, match=r"service 'db': no Python process started coverage"):
        collect.check_started(markers, ["api", "db"])


@pytest.mark.parametrize(
    ("given", "seconds"), [("5s", 5), ("1m30s", 90), ("500ms", 1), ("2.5s", 2), ("0s", 1)]
)
def test_grace_periods_in_whole_seconds_at_least_one(given: str, seconds: int) -> None:
    assert collect.grace_seconds({"api": {"stop_grace_period": given}}) == {"api": seconds}


def write_raw(path: Path, lines: dict[str, list[int]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(CoverageData(basename=str(path))) as data:
        data.add_lines(lines)
        data.write()
    return path


def test_container_paths_map_through_the_projects_paths_and_the_rest_is_named(tmp_path: Path) -> None:
    source = tmp_path / "src" / "app"
    source.mkdir(parents=True)
    (source / "views.py").write_text("a = 1\nb = 2\nc = 3\n")
    raw = write_raw(tmp_path / "raw" / ".coverage.c1.1.1", {"/app/app/views.py": [1, 3], "/app/conf.py": [1]})
    destination = Destination(tmp_path / "out" / ".coverage", paths={"app": [f"{source}/", "/app/app/"]})
    (tmp_path / "out").mkdir()

    result = combine({"api": [raw]}, destination, "run1-main")

    assert result.reported == [str(source / "views.py")]
    assert result.unmapped == {"/app/conf.py": ["api"]}
    assert result.written is not None
    assert result.written.name.startswith(".coverage.microstack.run1-main.")
    with closing(CoverageData(basename=str(result.written))) as written:
        written.read()
        assert sorted(written.measured_files()) == [str(source / "views.py")]
        assert sorted(written.lines(str(source / "views.py")) or []) == [1, 3]
    with pytest.warns(StackCoverageWarning, match=r"1 file\(s\).*\n  /app/conf.py \(api\)"):
        warn_unmapped(result.unmapped, "proj")


def test_written_data_is_what_coverage_combine_reads(tmp_path: Path) -> None:
    source = tmp_path / "src" / "app"
    source.mkdir(parents=True)
    (source / "views.py").write_text("a = 1\nb = 2\n")
    raw = write_raw(tmp_path / "raw" / ".coverage.c1.1.1", {"/app/app/views.py": [2]})
    destination = Destination(tmp_path / ".coverage", paths={"app": [f"{source}/", "/app/app/"]})
    combine({"api": [raw]}, destination, "r-main")

    cov = coverage.Coverage(data_file=str(tmp_path / ".coverage"), config_file=False)
    cov.combine([str(tmp_path)], strict=True)
    assert cov.get_data().lines(str(source / "views.py")) == [2]


def test_nothing_mapped_writes_nothing_and_names_every_file(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / ".coverage.c1.1.1", {"/app/x.py": [1]})
    result = combine({"api": [raw]}, Destination(tmp_path / "out" / ".coverage"), "r-main")
    assert result.written is None
    assert result.unmapped == {"/app/x.py": ["api"]}


def test_an_unreadable_data_file_is_named_not_fatal(tmp_path: Path) -> None:
    broken = tmp_path / ".coverage.c1.1.1"
    broken.write_bytes(b"not sqlite")
    with pytest.warns(StackCoverageWarning, match=r"api: unreadable data file"):
        result = combine({"api": [broken]}, Destination(tmp_path / ".coverage"), "r-main")
    assert result.written is None


def settings(tmp_path: Path, **changes: Any) -> StackSettings:
    return StackSettings(root=tmp_path, services=(), run_id="r1", coverage=True, **changes)


def test_coverage_services_must_be_in_the_compose_file(tmp_path: Path) -> None:
    config: dict[str, Any] = {"services": {"api": {}, "db": {}}}
    assert measured_services(settings(tmp_path), config) == ("api", "db")
    assert measured_services(settings(tmp_path, coverage_services=("api",)), config) == ("api",)
    expected = r"'worker' not in the compose file \(its services: api, db\)"
    with pytest.raises(StackCoverageError, match=expected):
        measured_services(settings(tmp_path, coverage_services=("api", "worker")), config)


@pytest.mark.parametrize("policy", [TeardownPolicy.KEEP, TeardownPolicy.REUSE], ids=["keep", "reuse"])
def test_a_kept_stack_is_refused(tmp_path: Path, policy: TeardownPolicy) -> None:
    with pytest.raises(StackCoverageError, match=r"can't measure a kept stack"):
        Measurement(settings(tmp_path, teardown=policy), Engine(None, "127.0.0.1"), tmp_path, {})


def test_an_engine_on_another_machine_is_measured_through_its_api() -> None:
    from pytest_microstack._coverage.through_api import RemoteMeasurement, measurement_class

    assert measurement_class(Engine(None, "127.0.0.1")) is Measurement
    assert measurement_class(Engine(None, "10.1.2.3")) is RemoteMeasurement


def test_warnings_are_quiet_when_everything_maps() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_unmapped({}, "proj")


def test_a_paths_entry_named_after_a_service_maps_only_that_services_files(tmp_path: Path) -> None:
    for name in ("web", "kv"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text("x = 1\ny = 2\nz = 3\n")
    web = write_raw(tmp_path / "raw-web" / ".coverage.a.1.1", {"/app/app.py": [1]})
    kv = write_raw(tmp_path / "raw-kv" / ".coverage.b.1.1", {"/app/app.py": [2, 3]})
    paths = {"web": [f"{tmp_path}/web/", "/app/"], "kv": [f"{tmp_path}/kv/", "/app/"]}

    result = combine({"web": [web], "kv": [kv]}, Destination(tmp_path / ".coverage", paths=paths), "r-main")

    assert result.written is not None
    with closing(CoverageData(basename=str(result.written))) as written:
        written.read()
        assert written.lines(f"{tmp_path}/web/app.py") == [1]
        assert sorted(written.lines(f"{tmp_path}/kv/app.py") or []) == [2, 3]


def test_the_projects_own_configuration_is_read_where_coverage_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.coverage.run]\nbranch = true\nomit = ["/app/conf.py"]\ndata_file = "cov/.data"\n'
        '[tool.coverage.paths]\nsource = ["src/", "/app/"]\n'
    )
    monkeypatch.chdir(tmp_path)

    destination = Destination.project_default()

    assert destination.data_file == tmp_path / "cov" / ".data"
    assert destination.paths == {"source": ["src/", "/app/"]}
    assert destination.run_settings["branch"] is True
    assert destination.run_settings["omit"] == ["/app/conf.py"]
    assert destination.joins_pytest_cov is False


@pytest.mark.parametrize(
    ("installed", "refused"), [("7.10.4", False), ("7.10.3", True), ("8.0", False), ("6.5.0", True)]
)
def test_coverage_older_than_patch_fork_is_refused(
    installed: str, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "coverage_version", lambda: installed)
    if refused:
        with pytest.raises(StackCoverageError, match=rf"needs coverage.py 7\.10\.4\+.*has {installed}"):
            runtime.check_coverage_installed()
    else:
        runtime.check_coverage_installed()


def test_missing_coverage_is_refused_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        raise importlib.metadata.PackageNotFoundError("coverage")

    monkeypatch.setattr(runtime, "coverage_version", missing)
    with pytest.raises(StackCoverageError, match=r"pip install pytest-cov"):
        runtime.check_coverage_installed()


@pytest.mark.parametrize(
    ("ini", "coverage_on", "services"),
    [
        pytest.param("", False, (), id="off"),
        pytest.param("stack_coverage = true\n", True, (), id="every-service"),
        pytest.param(
            "stack_coverage = true\nstack_coverage_services = api worker\n",
            True,
            ("api", "worker"),
            id="limited",
        ),
    ],
)
def test_the_ini_switches_coverage_on_and_limits_it(
    tmp_path: Path, ini: str, coverage_on: bool, services: tuple[str, ...]
) -> None:
    from pytest_microstack import read_settings

    path = tmp_path / "pytest.ini"
    path.write_text("[pytest]\n" + ini)

    read = read_settings(path, run_id="r1", environ={})

    assert read.coverage is coverage_on
    assert read.coverage_services == services
