"""`nox -s remote_engines`: what runs against two namespaced engines, and the check that nothing is left.

On the first engine, over tcp://ADDR:2375: the whole integration suite (-n 2), then one file of it with
--stack-coverage (data back through the engine's API). On the second, over ssh://root@ADDR
(the rig's sshd and key): the plugin's example project, as its users run it; then its
Ctrl-C, SIGTERM and SIGKILL tests over tcp://. Then a pool run over both (`-n 4`,
--stack-engines): two workers on each, the summary saying so; and one where the second
engine becomes unreachable once its two stacks run: only its workers' tests may fail, saying
EngineLostError, and `--lf` then passes on the first alone. Afterwards (the lost engine's
stacks swept, as the next run would) neither engine may hold a container, volume or
network. Images come from the local engine; nothing is pulled.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tools.artifacts import report_args
from tools.collect import INTEGRATION
from tools.netns_engine.daemon import docker
from tools.netns_engine.rig import RemoteEngine, Rig, rig
from tools.netns_engine.run import RigError
from tools.netns_engine.run import run as runcmd
from tools.podman import dotenv_value
from tools.pytest_args import paths_given

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts"
PLUGIN = ROOT / "pytest-microstack"
DEFAULT_BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
# What the pool run (-n 4 over both engines) runs: enough tests for every worker to start a stack.
REAPER_TIMEOUT = 180.0  # seconds for the last runs' reapers to remove their stacks
LOST_RUN_TIMEOUT = 900.0  # seconds for the lost-engine run, start-ups on a loaded machine included
SUITE_WORKERS = "2"  # the whole suite's xdist workers on the first engine: bounded, as in CI
POOL_FILES = ("tests/test_inter_service_flow.py", "tests/scenarios")


def pytest(*args: str, env: Mapping[str, str], cwd: Path = ROOT, capture: bool = False) -> str:
    """This interpreter's pytest with `args` and `env` over this process's; its output when captured.

    RigError when it fails.
    """
    command = [sys.executable, "-m", "pytest", *args]
    print(f"remote_engines: {' '.join(command)}", flush=True)
    result = subprocess.run(
        command, env={**os.environ, **env}, cwd=cwd, check=False, text=True, capture_output=capture
    )
    if capture:
        print(result.stdout, result.stderr, sep="\n", flush=True)
    if result.returncode != 0:
        engine = env.get("DOCKER_HOST")
        raise RigError(f"{' '.join(command)} exited {result.returncode} (DOCKER_HOST={engine})")
    return result.stdout or ""


def suite(args: Sequence[str], env: Mapping[str, str]) -> float:
    """The whole integration suite, two workers (as `nox -s integration_parallel`); its wall time in s.

    `args` as for `nox -s integration`: a path among them replaces `tests`, a `-n` the two workers.
    """
    reports = report_args(ARTIFACTS, "remote_engines", args)
    workers = [] if any(arg.startswith(("-n", "--numprocesses")) for arg in args) else ["-n", SUITE_WORKERS]
    started = time.monotonic()
    pytest("-m", INTEGRATION, *workers, *reports, *([] if paths_given(args) else ["tests"]), *args, env=env)
    seconds = time.monotonic() - started
    print(f"remote_engines: the suite on {env['DOCKER_HOST']} took {seconds:.0f} s", flush=True)
    return seconds


def coverage(env: Mapping[str, str]) -> None:
    """--stack-coverage on a remote engine: data must come back (through its API) for one test file."""
    started = time.time()
    pytest("--stack-coverage", "tests/test_inter_service_flow.py", env=env)
    found = [path for path in ROOT.glob(".coverage.microstack.*") if path.stat().st_mtime >= started]
    if not found:
        raise RigError("--stack-coverage on the remote engine brought back no data file")
    folder = ARTIFACTS / "remote_engines" / "coverage"
    folder.mkdir(parents=True, exist_ok=True)
    for path in found:
        path.rename(folder / path.name)
    print(f"remote_engines: stack coverage from the remote engine: {len(found)} data file(s) in {folder}")


def example_project(env: Mapping[str, str]) -> None:
    """The plugin's example project, an outside project, run in a copy as its users run it."""
    with tempfile.TemporaryDirectory(prefix="remote-example-") as folder:
        project = Path(folder) / "example"
        shutil.copytree(PLUGIN / "tests" / "example_project", project)
        base_image = dotenv_value(ROOT / ".env", "BASE_IMAGE")
        (project / ".env").write_text(f"BASE_IMAGE={base_image}\n" if base_image else "")
        pytest("-p", "no:cacheprovider", "--rootdir", str(project), str(project), env=env)


def pool_run(engines: Rig, files: Sequence[str]) -> None:
    """`-n 4` over both engines (--stack-engines): two workers on each, as the run's summary must say."""
    urls = [engine.tcp_url for engine in engines.engines]
    args = ["-n", "4", f"--stack-engines={','.join(urls)}", "-m", INTEGRATION, *files]
    output = pytest(*args, env={"DOCKER_HOST": "unix:///nonexistent/not-the-pool.sock"}, capture=True)
    for url in urls:
        line = next((line for line in output.splitlines() if line.strip().startswith(url)), "")
        if line.count(" ready in ") != 2:
            raise RigError(f"the pool run's summary doesn't show two started workers on {url}: {line!r}")
    print("remote_engines: pool run: two workers on each engine, as the summary shows")


def lost_engine_run(engines: Rig, files: Sequence[str], timeout: float = LOST_RUN_TIMEOUT) -> None:
    """The second engine lost mid-run: its workers' tests fail with EngineLostError, the others pass;
    `--lf` passes on the first engine alone; then the lost engine's stacks are swept once it is back."""
    first, second = engines.engines
    urls = [first.tcp_url, second.tcp_url]
    command = [sys.executable, "-m", "pytest", "-v", "-n", "4", "-m", INTEGRATION]
    command += [f"--stack-engines={','.join(urls)}", *files]
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/not-the-pool.sock"}
    env.pop("CI", None)  # the reaper removes the stacks: no worker waits on an engine that is gone
    print(f"remote_engines: {' '.join(command)}", flush=True)
    with tempfile.TemporaryFile("w+") as output:
        run = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_for_stacks(second, 2, run, deadline=time.monotonic() + timeout)
            # The engine's machine is gone: an unreachable route to its address, so a connection fails
            # here at once and nothing leaves this machine (with the veth down, the default route
            # would carry it out).
            runcmd(["ip", "route", "add", "unreachable", f"{second.address}/32"])
            print(f"remote_engines: {second.name} is unreachable: the engine is lost", flush=True)
            run.wait(timeout=timeout)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        output.seek(0)
        text = output.read()
    print(text, flush=True)
    try:
        _check_lost_run(text, run.returncode, second.tcp_url)
        # The re-run: the lost engine doesn't answer, so it is left out; the first runs every failure.
        rerun = pytest(
            "--lf",
            "-n",
            "2",
            f"--stack-engines={','.join(urls)}",
            "-m",
            INTEGRATION,
            *files,
            env={"DOCKER_HOST": env["DOCKER_HOST"]},
            capture=True,
        )
        if f"{second.tcp_url}  left out" not in rerun:
            raise RigError(f"the --lf re-run did not leave out the lost engine {second.tcp_url}")
    finally:
        subprocess.run(["ip", "route", "del", "unreachable", f"{second.address}/32"], check=False)
    sweep = "from pytest_microstack._core.lifecycle import sweep_leftovers as s; print(s())"
    swept = subprocess.run(
        [sys.executable, "-c", sweep],
        env={**os.environ, "DOCKER_HOST": second.tcp_url},
        timeout=300,
        check=False,
    )
    if swept.returncode != 0:
        raise RigError(f"the sweep of {second.name} once it was reachable again exited {swept.returncode}")
    print("remote_engines: lost engine: only its workers failed, --lf passed on the other, its stacks swept")


def _wait_for_stacks(engine: RemoteEngine, count: int, run: subprocess.Popen[str], deadline: float) -> None:
    """Until `count` stacks run on `engine` (their compose projects); RigError if the run ends first."""
    while len(_projects(engine)) < count:
        if run.poll() is not None or time.monotonic() > deadline:
            raise RigError(f"{count} stacks never ran on {engine.name} (pool run exit {run.poll()})")
        time.sleep(1)  # polling the engine under the deadline above


def _projects(engine: RemoteEngine) -> set[str]:
    label = '{{.Label "com.docker.compose.project"}}'
    names = docker(engine.plan, "ps", "--format", label).split()
    return {name for name in names if name.startswith("microstack-it-")}


def _check_lost_run(text: str, returncode: int, lost_url: str) -> None:
    """Failures only on the lost engine's workers, each of those saying so; RigError otherwise."""
    summary = [line.strip() for line in text.splitlines() if line.strip().startswith(lost_url)]
    lost_workers = set(re.findall(r"\b(gw\d+) ", summary[0])) if summary else set()
    failed = [line for line in text.splitlines() if re.search(r"\] (FAILED|ERROR) ", line)]
    failed_workers = {re.findall(r"\[(gw\d+)\]", line)[0] for line in failed if line.startswith("[gw")}
    if returncode != 1 or not failed or not lost_workers:
        raise RigError(
            f"the lost-engine run: exit {returncode}, {len(failed)} failed, lost workers {lost_workers}"
        )
    if not failed_workers <= lost_workers:
        raise RigError(f"workers {sorted(failed_workers - lost_workers)} failed on the engine that stayed")
    if "EngineLostError" not in text or lost_url not in text:
        raise RigError(f"the lost engine's failures don't say EngineLostError naming {lost_url}")
    lost_count, others_count = _results_by_engine(text, lost_workers)
    if lost_count >= others_count:
        raise RigError(
            f"the lost engine's workers kept taking tests: {lost_count} results there, "
            f"against {others_count} on the engine that stayed"
        )


def _results_by_engine(text: str, lost_workers: set[str]) -> tuple[int, int]:
    """How many test results the lost engine's workers gave, and how many the others did.

    Sent no more tests once lost, those workers end with the few they held and the others run
    the rest; a lost worker that kept taking tests failed each at once, so it took most of them.
    """
    results = re.findall(r"^\[(gw\d+)\] \[ *\d+%\] (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) ", text, re.M)
    lost = sum(worker in lost_workers for worker in results)
    return lost, len(results) - lost


def nothing_left(engines: Rig, log: Callable[[str], None], timeout: float = REAPER_TIMEOUT) -> None:
    """RigError naming the engine and what it holds, if any still holds a container, volume or network
    once the runs' reapers (detached: they remove after pytest exits) had `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for engine in engines.engines:
        while left := {kind: names for kind, names in engine.objects().items() if names}:
            if time.monotonic() > deadline:
                raise RigError(f"{engine.name} still holds {left} {timeout:g} s after the runs")
            time.sleep(1)  # polling the engine under the deadline above
        log(f"remote_engines: {engine.name}: no containers, volumes or networks left")


def run(args: Sequence[str]) -> None:
    """Both engines up, every run against them, then nothing left; all removed after, failures included."""
    base_image = dotenv_value(ROOT / ".env", "BASE_IMAGE") or DEFAULT_BASE_IMAGE
    with rig(2, [base_image]) as engines:
        tcp, ssh = engines.engines
        env = {"DOCKER_HOST": tcp.tcp_url}
        suite(args, env)
        coverage(env)
        example_project({"DOCKER_HOST": ssh.ssh_url, "PATH": f"{engines.ssh_path}:{os.environ['PATH']}"})
        # Ctrl-C, SIGTERM and SIGKILL (then the next run's sweep) of a run holding a stack there.
        signals = str(PLUGIN / "tests" / "engine" / "test_signals.py")
        pytest("-m", "integration", signals, env={"DOCKER_HOST": ssh.tcp_url})
        pool_run(engines, POOL_FILES)
        lost_engine_run(engines, POOL_FILES)
        nothing_left(engines, print)
