"""_engine.images: per-service image tags by the digest of their inputs, built only when missing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import docker.errors
import pytest
from filelock import FileLock, Timeout
from pytest_microstack._engine.images import (
    TAG_PREFIX,
    ImagePlan,
    context_digest,
    ensure_images,
    exact_names,
    full_name,
    image_id,
    image_repository,
    own_project_name,
    plan_images,
    service_digest,
)
from pytest_microstack._errors import StackConfigError

from unit.fakes import FakeCompose, FakeEngine

BASE = "python:3.11-slim"
DOCKERFILE = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG SERVICE\nCOPY ${SERVICE} /app\n"


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A build context shaped like services/: one Dockerfile, two services, a .dockerignore."""
    root = tmp_path / "services"
    files = {
        "Dockerfile": DOCKERFILE,
        "user-service/user_service/app.py": "print('users')\n",
        "product-service/product_service/app.py": "print('products')\n",
        "servicekit/servicekit/__init__.py": "",
        ".dockerignore": "# what the Dockerfile never copies\n**/tests\n**/__pycache__\n**/*.md\n!keep.md\n",
    }
    for name, text in files.items():
        write(root / name, text)
    return root


@pytest.fixture
def engine_with_base(engine: FakeEngine) -> FakeEngine:
    engine.images.present[BASE] = "sha256:base-1"
    return engine


def build_of(context: Path, **extra: Any) -> dict[str, Any]:
    """A service's `build:` as `docker compose config` prints it: an absolute context."""
    return {
        "context": str(context),
        "dockerfile": "Dockerfile",
        "args": {"BASE_IMAGE": BASE, "SERVICE": "user-service"},
        **extra,
    }


def digest_of(build: dict[str, Any], engine: FakeEngine) -> str:
    return service_digest("user-service", build, engine, {})


# --- context_digest ----------------------------------------------------------------------------


def test_context_digest_is_stable_and_independent_of_where_the_context_is(
    context: Path, tmp_path: Path
) -> None:
    copy_root = tmp_path / "elsewhere" / "services"
    for path in context.rglob("*"):
        if path.is_file():
            write(copy_root / path.relative_to(context), path.read_bytes())

    assert context_digest(context) == context_digest(context)
    assert context_digest(copy_root) == context_digest(context)


Change = Callable[[Path], object]
CONTEXT_CHANGES: list[Any] = [
    pytest.param(lambda c: write(c / "user-service/user_service/app.py", "print('changed')\n"), id="edit"),
    pytest.param(lambda c: write(c / "user-service/user_service/new.py", ""), id="new-empty-file"),
    pytest.param(lambda c: (c / "servicekit/servicekit/__init__.py").unlink(), id="delete"),
    pytest.param(
        lambda c: (c / "user-service/user_service/app.py").rename(c / "user-service/user_service/main.py"),
        id="rename",
    ),
    pytest.param(lambda c: write(c / "Dockerfile", "FROM other\n"), id="dockerfile"),
    pytest.param(lambda c: write(c / "wheels/pkg-1.0-py3-none-any.whl", b"\x00wheel"), id="binary-file"),
    pytest.param(lambda c: write(c / "keep.md", "re-included by !keep.md"), id="negated-pattern"),
    pytest.param(lambda c: write(c / "user-service/tests_helpers.py", "x"), id="name-like-an-ignored-one"),
    pytest.param(lambda c: write(c / ".dockerignore", "**/tests\n"), id="dockerignore-itself"),
]


@pytest.mark.parametrize("change", CONTEXT_CHANGES)
def test_context_digest_changes_with_what_docker_build_would_send(context: Path, change: Change) -> None:
    before = context_digest(context)
    change(context)
    assert context_digest(context) != before


IGNORED: list[Any] = [
    pytest.param("user-service/tests/test_app.py", id="service-tests-dir"),
    pytest.param("tests/conftest.py", id="top-level-tests-dir"),
    pytest.param("user-service/user_service/__pycache__/app.cpython-311.pyc", id="pycache"),
    pytest.param("user-service/README.md", id="markdown"),
]


@pytest.mark.parametrize("ignored", IGNORED)
def test_context_digest_ignores_what_dockerignore_keeps_out(context: Path, ignored: str) -> None:
    before = context_digest(context)
    write(context / ignored, "anything")
    assert context_digest(context) == before


def test_the_dockerfile_counts_even_when_dockerignore_lists_it(context: Path) -> None:
    write(context / ".dockerignore", "Dockerfile\n")
    before = context_digest(context)
    write(context / "Dockerfile", "FROM other\n")
    assert context_digest(context) != before, "docker build always sends the Dockerfile"


def test_without_a_dockerignore_everything_counts(context: Path) -> None:
    (context / ".dockerignore").unlink()
    before = context_digest(context)
    write(context / "user-service/tests/test_app.py", "x")
    assert context_digest(context) != before


def test_moving_bytes_between_name_and_content_changes_the_digest(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    write(one / "ab", "c")
    write(two / "a", "bc")
    assert context_digest(one) != context_digest(two)


def test_empty_directories_and_symlinks_do_not_count(context: Path) -> None:
    before = context_digest(context)
    (context / "user-service/empty").mkdir()
    (context / "link.py").symlink_to(context / "user-service/user_service/app.py")
    assert context_digest(context) == before


# --- service_digest ----------------------------------------------------------------------------


def test_service_digest_is_short_hex_and_stable(context: Path, engine_with_base: FakeEngine) -> None:
    first = digest_of(build_of(context), engine_with_base)
    assert first == digest_of(build_of(context), engine_with_base)
    assert len(first) == 16
    int(first, 16)


def other_dockerfile(context: Path) -> str:
    write(context / "Other.Dockerfile", DOCKERFILE + "# other\n")
    return "Other.Dockerfile"


BUILD_CHANGES: list[Any] = [
    pytest.param(
        lambda c, e, b: write(c / "servicekit/servicekit/__init__.py", "x = 1\n"), id="context-file"
    ),
    pytest.param(lambda c, e, b: write(c / "Dockerfile", DOCKERFILE + "USER 1000\n"), id="dockerfile"),
    pytest.param(lambda c, e, b: b["args"].update(SERVICE="product-service"), id="build-arg-value"),
    pytest.param(lambda c, e, b: b["args"].update(PORT="5000"), id="build-arg-added"),
    pytest.param(lambda c, e, b: b["args"].update(PORT=None), id="build-arg-without-value"),
    pytest.param(lambda c, e, b: b.update(target="runtime"), id="target"),
    pytest.param(lambda c, e, b: e.images.present.update({BASE: "sha256:base-2"}), id="base-image-rebuilt"),
    pytest.param(lambda c, e, b: e.images.present.pop(BASE), id="base-image-gone"),
    pytest.param(
        lambda c, e, b: b.update(dockerfile=other_dockerfile(c)),
        id="another-dockerfile",
    ),
]


@pytest.mark.parametrize("change", BUILD_CHANGES)
def test_service_digest_changes_with_each_build_input(
    context: Path, engine_with_base: FakeEngine, change: Callable[[Path, FakeEngine, dict[str, Any]], object]
) -> None:
    build = build_of(context)
    before = digest_of(copy.deepcopy(build), engine_with_base)
    change(context, engine_with_base, build)
    assert digest_of(build, engine_with_base) != before


def test_a_base_image_named_on_a_from_line_counts(context: Path, engine: FakeEngine) -> None:
    write(
        context / "Dockerfile", "FROM --platform=linux/amd64 itest-local/python:3.11 AS build\nCOPY . /app\n"
    )
    engine.images.present["itest-local/python:3.11"] = "sha256:one"
    before = digest_of(build_of(context, args={}), engine)

    engine.images.present["itest-local/python:3.11"] = "sha256:two"

    assert digest_of(build_of(context, args={}), engine) != before
    assert "docker.io/itest-local/python:3.11" in engine.images.lookups, "looked up by its full name"


def test_unresolved_variables_are_not_looked_up_as_images(
    context: Path, engine_with_base: FakeEngine
) -> None:
    digest_of(build_of(context), engine_with_base)
    assert not any("${" in name for name in engine_with_base.images.lookups)
    assert f"docker.io/library/{BASE}" in engine_with_base.images.lookups


def test_an_ignored_file_leaves_the_service_digest_alone(context: Path, engine_with_base: FakeEngine) -> None:
    before = digest_of(build_of(context), engine_with_base)
    write(context / "user-service/tests/test_app.py", "assert True\n")
    assert digest_of(build_of(context), engine_with_base) == before


def test_services_sharing_a_context_hash_it_once(context: Path, engine_with_base: FakeEngine) -> None:
    contexts: dict[tuple[str, str], str] = {}
    service_digest("user-service", build_of(context), engine_with_base, contexts)
    service_digest("product-service", build_of(context), engine_with_base, contexts)
    assert list(contexts) == [(str(context), str(context / "Dockerfile"))]


@pytest.mark.parametrize(
    ("build", "key", "problem"),
    [
        pytest.param({"dockerfile": "Dockerfile"}, "build.context", "no build context", id="no-context"),
        pytest.param(
            {"context": "https://github.com/example/app.git#main"},
            "build.context",
            "not a local folder",
            id="remote-context",
        ),
        pytest.param(
            {"context": "CONTEXT", "dockerfile": "Missing.Dockerfile"},
            "build.dockerfile",
            "does not exist",
            id="no-dockerfile",
        ),
    ],
)
def test_a_build_the_harness_cannot_hash_names_service_and_key(
    context: Path, engine: FakeEngine, build: dict[str, Any], key: str, problem: str
) -> None:
    build = {k: str(context) if v == "CONTEXT" else v for k, v in build.items()}

    with pytest.raises(StackConfigError, match=problem) as caught:
        service_digest("user-service", build, engine, {})

    assert (caught.value.service, caught.value.key) == ("user-service", key)
    assert f"service 'user-service', key '{key}'" in str(caught.value)


# --- image_repository and plan_images ----------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        pytest.param("microstack/user-service:dev", "microstack/user-service", id="tag-dropped"),
        pytest.param("microstack/user-service", "microstack/user-service", id="no-tag"),
        pytest.param("registry.local:5000/team/api", "registry.local:5000/team/api", id="registry-port-kept"),
        pytest.param(
            "registry.local:5000/team/api:1.2", "registry.local:5000/team/api", id="registry-and-tag"
        ),
        pytest.param(None, "shop-user-service", id="no-image-compose-default-lowercased"),
        pytest.param("", "shop-user-service", id="empty-image"),
    ],
)
def test_image_repository(image: str | None, repository: str) -> None:
    spec = {"build": {"context": "."}, **({"image": image} if image is not None else {})}
    assert image_repository("Shop", "user-service", spec) == repository


def config_of(context: Path) -> dict[str, Any]:
    return {
        "name": "microstack",
        "services": {
            "user-service": {"build": build_of(context), "image": "microstack/user-service:dev"},
            "product-service": {
                "build": build_of(context, args={"BASE_IMAGE": BASE, "SERVICE": "product-service"})
            },
            "db": {"image": "postgres:16"},
        },
    }


def test_plan_images_tags_each_built_service_by_its_own_digest(
    context: Path, engine_with_base: FakeEngine
) -> None:
    config = config_of(context)

    plan = plan_images(config, engine_with_base)

    assert set(plan.images) == {"user-service", "product-service"}, "a service without build: keeps its image"
    user_digest = service_digest(
        "user-service", config["services"]["user-service"]["build"], engine_with_base, {}
    )
    assert plan.images["user-service"] == f"microstack/user-service:{TAG_PREFIX}{user_digest}"
    repository, _, tag = plan.images["product-service"].partition(":")
    assert repository == "microstack-product-service"
    assert tag.startswith(TAG_PREFIX)
    assert plan.images["product-service"] != plan.images["user-service"].replace("/", "-")


def test_a_change_in_one_service_changes_only_its_image(context: Path, engine_with_base: FakeEngine) -> None:
    before = plan_images(config_of(context), engine_with_base)
    write(context / "product-service/product_service/app.py", "print('changed')\n")
    changed = config_of(context)
    changed["services"]["product-service"]["build"]["args"]["EXTRA"] = "1"

    after = plan_images(changed, engine_with_base)

    assert after.images["user-service"] != before.images["user-service"], "shares the context"
    assert after.images["product-service"] != before.images["product-service"]
    args_only = config_of(context)
    args_only["services"]["product-service"]["build"]["args"]["EXTRA"] = "2"
    again = plan_images(args_only, engine_with_base)
    assert again.images["user-service"] == after.images["user-service"], "other services' args don't count"


def test_a_project_without_a_name_gets_a_default_repository(
    context: Path, engine_with_base: FakeEngine
) -> None:
    config = config_of(context)
    del config["name"]

    plan = plan_images(config, engine_with_base)

    assert plan.images["product-service"].startswith("stack-product-service:")


def test_plan_tag_is_one_digest_of_every_image() -> None:
    plan = ImagePlan({"a": "a:it-1", "b": "b:it-2"})
    assert plan.tag == ImagePlan({"b": "b:it-2", "a": "a:it-1"}).tag
    assert plan.tag != ImagePlan({"a": "a:it-1", "b": "b:it-3"}).tag
    assert len(plan.tag) == 16


# --- image_id and ensure_images ----------------------------------------------------------------


def test_image_id_is_empty_for_a_missing_or_unnamable_image(engine: FakeEngine) -> None:
    engine.images.present["there:1"] = "sha256:abc"
    engine.images.errors["Bad Name"] = docker.errors.APIError("invalid reference format")
    engine.images.errors["UPPER/case"] = docker.errors.InvalidRepository("repository name must be lowercase")

    assert image_id(engine, "there:1") == "sha256:abc"
    assert image_id(engine, "missing:1") == ""
    assert image_id(engine, "Bad Name") == ""
    assert image_id(engine, "UPPER/case") == ""
    engine.images.errors["docker.io/library/refused:1"] = docker.errors.APIError("500 Server Error")
    assert image_id(engine, "refused:1") == ""
    assert "Bad Name" not in engine.images.lookups, "not a reference: never sent to the engine"


@pytest.mark.parametrize(
    ("name", "full"),
    [
        pytest.param(
            "python:3.11-slim-bookworm", "docker.io/library/python:3.11-slim-bookworm", id="official"
        ),
        pytest.param("python", "docker.io/library/python:latest", id="untagged"),
        pytest.param("itest-local/python:3.11", "docker.io/itest-local/python:3.11", id="user-repository"),
        pytest.param("localhost/itest/python:3.11", "localhost/itest/python:3.11", id="localhost"),
        pytest.param("registry.example:5000/a/b", "registry.example:5000/a/b:latest", id="registry-port"),
        pytest.param(f"python@sha256:{'a' * 64}", f"docker.io/library/python@sha256:{'a' * 64}", id="digest"),
        pytest.param(f"sha256:{'b' * 64}", f"sha256:{'b' * 64}", id="image-id"),
    ],
)
def test_full_name(name: str, full: str) -> None:
    assert full_name(name) == full


def test_the_exact_names_podman_may_store_an_unqualified_name_under() -> None:
    assert exact_names("itest-local/python:3.11", podman=True) == [
        "localhost/itest-local/python:3.11",
        "docker.io/itest-local/python:3.11",
    ]
    assert exact_names("itest-local/python:3.11", podman=False) == ["docker.io/itest-local/python:3.11"]
    assert exact_names("quay.io/a/b:1", podman=True) == ["quay.io/a/b:1"]


OFFICIAL = "python:3.11-slim-bookworm"
LOCAL_BASE = "itest-local/python:3.11-slim-bookworm"


def test_podman_would_resolve_a_short_name_to_another_image_the_digest_does_not() -> None:
    """Podman's short-name lookup finds localhost/itest-local/python:… for python:…; image_id doesn't."""
    podman = FakeEngine("podman")
    podman.images.present[f"localhost/{LOCAL_BASE}"] = "sha256:local-build"

    assert podman.images.get(OFFICIAL).id == "sha256:local-build", "the engine's own lookup is fooled"
    assert image_id(podman, OFFICIAL) == ""
    assert image_id(podman, LOCAL_BASE) == "sha256:local-build"


@pytest.mark.parametrize(
    ("kind", "stored"),
    [
        pytest.param("docker", OFFICIAL, id="docker"),
        pytest.param("podman", f"docker.io/library/{OFFICIAL}", id="podman-loaded-from-docker-save"),
    ],
)
def test_the_official_image_is_found_by_its_full_name_on_either_engine(kind: str, stored: str) -> None:
    engine = FakeEngine(kind)
    engine.images.present[stored] = "sha256:official"
    engine.images.present[f"localhost/{LOCAL_BASE}"] = "sha256:local-build"

    assert image_id(engine, OFFICIAL) == "sha256:official"
    assert image_id(engine, f"docker.io/library/{OFFICIAL}") == "sha256:official"


def test_podman_prefers_its_localhost_name_as_podman_itself_does() -> None:
    podman = FakeEngine("podman")
    podman.images.present[f"localhost/{LOCAL_BASE}"] = "sha256:local"
    podman.images.present[f"docker.io/{LOCAL_BASE}"] = "sha256:hub"

    assert image_id(podman, LOCAL_BASE) == "sha256:local"
    assert image_id(FakeEngine("docker"), LOCAL_BASE) == ""


def test_an_image_id_is_looked_up_as_it_is(engine: FakeEngine) -> None:
    ident = f"sha256:{'c' * 64}"
    engine.images.present[ident] = ident

    assert image_id(engine, ident) == ident
    assert engine.images.lookups == [ident]


@pytest.mark.parametrize(
    ("present", "built"),
    [
        pytest.param({"a:it-1", "b:it-2"}, [], id="all-present"),
        pytest.param({"a:it-1"}, ["b"], id="one-missing"),
        pytest.param(set(), ["a", "b"], id="none-present"),
    ],
)
def test_ensure_images_builds_only_the_missing_services(
    engine: FakeEngine, tmp_path: Path, present: set[str], built: list[str]
) -> None:
    engine.images.present.update({name: f"sha256:{name}" for name in present})
    compose = FakeCompose()
    plan = ImagePlan({"a": "a:it-1", "b": "b:it-2"})

    assert ensure_images(cast(Any, compose), engine, plan, tmp_path / "build.lock") == built

    assert compose.built == ([built] if built else [])


def test_ensure_images_with_no_built_service_builds_nothing(engine: FakeEngine, tmp_path: Path) -> None:
    compose = FakeCompose()
    assert ensure_images(cast(Any, compose), engine, ImagePlan({}), tmp_path / "build.lock") == []
    assert compose.events == []


def test_ensure_images_builds_while_holding_the_lock(engine: FakeEngine, tmp_path: Path) -> None:
    lock_path = tmp_path / "build.lock"
    held: list[bool] = []

    class CheckingCompose(FakeCompose):
        def build_images(self, services: list[str] | None = None) -> None:
            try:
                FileLock(str(lock_path), timeout=0).acquire()
            except Timeout:
                held.append(True)
            else:
                held.append(False)

    ensure_images(cast(Any, CheckingCompose()), engine, ImagePlan({"a": "a:it-1"}), lock_path)

    assert held == [True]


def test_images_are_looked_up_again_once_the_lock_is_held(engine: FakeEngine, tmp_path: Path) -> None:
    """Another run built the image while this one waited for the lock: nothing left to build."""
    lock_path = tmp_path / "build.lock"
    compose = FakeCompose()

    class BuiltMeanwhile(FileLock):
        def acquire(self, *args: Any, **kwargs: Any) -> Any:
            engine.images.present["a:it-1"] = "sha256:built-by-the-other-run"  # while we waited
            return super().acquire(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pytest_microstack._engine.images.FileLock", BuiltMeanwhile)
        assert ensure_images(cast(Any, compose), engine, ImagePlan({"a": "a:it-1"}), lock_path) == []

    assert compose.events == []


# --- own_project_name: the compose project's own name, not the run's -----------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param({"compose.yaml": "services: {}\n"}, "checkout", id="the-folder"),
        pytest.param({"compose.yaml": "name: Shop\nservices: {}\n"}, "shop", id="declared-lowercased"),
        pytest.param(
            {"compose.yaml": "name: shop\n", "compose.ci.yaml": "name: shop-ci\n"}, "shop-ci", id="last-wins"
        ),
        pytest.param(
            {"compose.yaml": "name: shop\n", "compose.ci.yaml": "services: {}\n"}, "shop", id="kept-if-unset"
        ),
        pytest.param({"compose.yaml": "name: ${PROJECT}\n"}, "checkout", id="variable-skipped"),
        pytest.param({"compose.yaml": "name: '-My Shop!_1'\n"}, "myshop_1", id="normalised-as-compose"),
        pytest.param({"compose.yaml": "services: [unclosed\n"}, "checkout", id="unreadable-yaml"),
    ],
)
def test_own_project_name(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    folder = tmp_path / "checkout"
    for name, text in files.items():
        write(folder / name, text)

    assert own_project_name([folder / name for name in files]) == expected


def test_own_project_name_of_a_folder_with_nothing_usable_in_its_name(tmp_path: Path) -> None:
    write(tmp_path / "__" / "compose.yaml", "services: {}\n")

    assert own_project_name([tmp_path / "__" / "compose.yaml"]) == "stack"


def test_plan_images_names_a_service_without_image_by_the_project_name_given(
    context: Path, engine_with_base: FakeEngine
) -> None:
    config = {**config_of(context), "name": "microstack-it-cafe1234-gw1"}  # as `compose -p ... config` says

    plan = plan_images(config, engine_with_base, "microstack")

    assert plan.images["product-service"].startswith("microstack-product-service:it-")
    assert plan.images["user-service"].startswith("microstack/user-service:it-"), "image: still wins"
