"""The read-only folder that brings coverage.py into containers whose images don't have it.

It holds a copy of this environment's `coverage` package and a `sitecustomize`
module; the override puts the folder first on the services' PYTHONPATH, so every
Python process there starts coverage before any of its own code runs. The copy
keeps coverage's C tracer: it loads where the container's Python matches this
one (same version, glibc); elsewhere coverage falls back to its pure-Python
tracer, or to sys.monitoring on Python 3.12+ (set by the sitecustomize).

Built once per coverage version in the state folder, atomically, and shared by
every run of this user.
"""

from __future__ import annotations

import compileall
import contextlib
import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

from pytest_microstack._errors import StackCoverageError

# Inside the container.
MOUNT_ROOT = "/microstack-coverage"
LIB = f"{MOUNT_ROOT}/lib"
RCFILE = f"{MOUNT_ROOT}/coveragerc"
DATA = f"{MOUNT_ROOT}/data"
# Written by the sitecustomize into DATA, one per Python process: how coverage started there.
PROCESS_MARKER = ".microstack-process."
PROBE_FILE = "microstack-coverage-probe"
# The per-test contexts' agent (`agent.py`), as the containers import it.
AGENT_MODULE = "microstack_context_agent"
# Where the sitecustomize writes its markers, when not DATA (tests of the runtime outside a container).
DATA_ENV = "MICROSTACK_COVERAGE_DATA"

# Old syntax on purpose: it must run (and report) under Pythons coverage itself can't run on.
SITECUSTOMIZE = """\
# Written by pytest-microstack (--stack-coverage): runs the image's own
# sitecustomize if it has one (unmeasured: it is the interpreter's set-up, not
# the service), then starts coverage.py in this process and records how that
# went for the test run. Not for editing.
import os
import sys

MINIMUM = {minimum!r}
COVERAGE_VERSION = {version!r}


def _microstack_exit_on_sigterm(cov):
    # PID 1 (a container without `init`) ignores SIGTERM unless it handles it, so
    # coverage's handler (save, then SIGTERM again by default) would save and
    # leave the process running until Docker kills it. Here SIGTERM saves and
    # ends the process, as it ends any other. The service's own handler, set
    # later, replaces this one.
    import signal

    def on_sigterm(signum, frame):
        try:
            cov.stop()
            cov.save()
        finally:
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)


def _microstack_start_coverage():
    status, detail = "started", ""
    if tuple(sys.version_info[:2]) < MINIMUM:
        status = "unsupported"
        detail = "coverage %s needs Python >= %d.%d" % ((COVERAGE_VERSION,) + MINIMUM)
    else:
        try:
            if sys.version_info >= (3, 12) and not os.environ.get("COVERAGE_CORE"):
                try:
                    import coverage.tracer  # noqa: F401  the C tracer, when it loads here
                except ImportError:
                    os.environ["COVERAGE_CORE"] = "sysmon"  # far faster than the Python tracer
            import coverage

            cov = coverage.process_startup()
            if cov is None and not hasattr(coverage.process_startup, "coverage"):
                status, detail = "failed", "COVERAGE_PROCESS_START is not set"
            elif cov is not None and os.getpid() == 1:
                _microstack_exit_on_sigterm(cov)
            started = getattr(coverage.process_startup, "coverage", None)  # by us, or a .pth before us
            if started is not None and os.environ.get("MICROSTACK_CONTEXT_PORT"):
                import microstack_context_agent  # per-test contexts: see its docstring

                microstack_context_agent.start()
        except Exception as error:  # the service must start whatever happens here
            status, detail = "failed", "%s: %s" % (type(error).__name__, error)
    line = "%s\\t%d.%d.%d\\t%s\\t%s\\n" % ((status,) + tuple(sys.version_info[:3]) + (sys.executable, detail))
    name = "%s%s.%d" % ({marker!r}, os.uname()[1], os.getpid())
    try:
        with open(os.path.join(os.environ.get("MICROSTACK_COVERAGE_DATA", {data!r}), name), "w") as out:
            out.write(line)
    except (OSError, IOError):
        pass


def _microstack_chain():
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    try:
        import importlib.machinery
        import importlib.util

        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
    except ImportError:
        pass


_microstack_chain()
_microstack_start_coverage()
"""


# The oldest coverage.py whose [run] patch = fork the rcfile relies on.
MINIMUM_COVERAGE = (7, 10, 4)


def coverage_version() -> str:
    return importlib.metadata.version("coverage")


def check_coverage_installed() -> None:
    """coverage.py must be installed here, recent enough: it is what the containers run."""
    wanted = ".".join(map(str, MINIMUM_COVERAGE))
    try:
        version = coverage_version()
    except importlib.metadata.PackageNotFoundError:
        raise StackCoverageError(
            f"--stack-coverage needs coverage.py {wanted}+ in the test environment: "
            "pip install pytest-cov (or coverage, or pytest-microstack[coverage])"
        ) from None
    numbers = tuple(int(part) for part in version.split(".")[:3] if part.isdigit())
    if numbers < MINIMUM_COVERAGE:
        raise StackCoverageError(
            f"--stack-coverage needs coverage.py {wanted}+ (its [run] patch = fork); "
            f"this environment has {version}: pip install -U coverage"
        )


def minimum_python() -> tuple[int, int]:
    """The oldest Python this coverage runs under, from its Requires-Python (e.g. ">=3.11")."""
    requires = importlib.metadata.metadata("coverage")["Requires-Python"] or ">=3.8"
    for clause in requires.split(","):
        clause = clause.strip()
        if clause.startswith(">="):
            major, minor = [*clause[2:].strip().split("."), "0"][:2]
            return int(major), int(minor)
    return (3, 8)


def build_runtime(state: Path) -> Path:
    """The folder to mount at LIB (built now unless this coverage version's is already there)."""
    import coverage

    version = coverage_version()
    sitecustomize = SITECUSTOMIZE.format(
        minimum=minimum_python(), version=version, marker=PROCESS_MARKER, data=DATA
    )
    agent = (Path(__file__).parent / "agent.py").read_text()
    digest = hashlib.sha256((sitecustomize + agent).encode()).hexdigest()[:8]
    target = state / f"coverage-runtime-{version}-{digest}"
    if (target / "sitecustomize.py").is_file():
        return target
    source = Path(coverage.__file__).parent
    staging = Path(tempfile.mkdtemp(prefix="coverage-runtime-", dir=state))
    try:
        shutil.copytree(source, staging / "coverage", ignore=shutil.ignore_patterns("__pycache__"))
        (staging / "sitecustomize.py").write_text(sitecustomize)
        (staging / f"{AGENT_MODULE}.py").write_text(agent)
        (staging / PROBE_FILE).write_text(version + "\n")
        # Byte-compiled here: the mount is read-only, so every process would compile coverage again.
        compileall.compile_dir(str(staging), quiet=2)
        _readable_by_all(staging)
        try:
            staging.rename(target)
        except OSError:  # another run built it meanwhile
            if not (target / "sitecustomize.py").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _readable_by_all(root: Path) -> None:
    """Services run as any user: every file readable, every folder searchable."""
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(os.path.join(folder, name), 0o644)
