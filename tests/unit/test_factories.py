"""tests.harness.factories: users and products made through the services' HTTP APIs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from pytest_microstack import ServiceClient
from werkzeug.wrappers import Request, Response

from tests.support.factories import FactoryError, ProductFactory, User, UserFactory


@pytest.fixture
def client(httpserver: HTTPServer) -> Iterator[ServiceClient]:
    base = httpserver.url_for("/").rstrip("/")
    with ServiceClient("svc", lambda: base) as made:
        yield made


def create_user(request: Request) -> Response:
    body = request.get_json()
    return Response(json.dumps({"id": 11, "username": body["username"]}), 201, mimetype="application/json")


def issue_token(request: Request) -> Response:
    return Response(json.dumps({"access_token": f"tok-{request.get_json()['username']}"}), 200)


def serve_users(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/users", method="POST").respond_with_handler(create_user)
    httpserver.expect_request("/auth/token", method="POST").respond_with_handler(issue_token)


def bodies(httpserver: HTTPServer, path: str) -> list[dict[str, object]]:
    return [request.get_json() for request, _ in httpserver.log if request.path == path]


def test_make_user_creates_and_logs_in_a_unique_user(httpserver: HTTPServer, client: ServiceClient) -> None:
    serve_users(httpserver)
    make_user = UserFactory(client)

    user = make_user()
    other = make_user()

    [created, _], [login, _] = bodies(httpserver, "/users"), bodies(httpserver, "/auth/token")
    assert user.id == 11
    assert user.username == created["username"]
    assert user.password == created["password"]
    assert login == {"username": user.username, "password": user.password}
    assert user.token == f"tok-{user.username}"
    assert user.auth == {"Authorization": f"Bearer tok-{user.username}"}
    assert other.username != user.username
    assert other.password != user.password
    assert make_user.created == [user, other]


def test_make_user_applies_overrides(httpserver: HTTPServer, client: ServiceClient) -> None:
    serve_users(httpserver)

    user = UserFactory(client)(username="alice", password="pw-123456")

    assert (user.username, user.password) == ("alice", "pw-123456")
    assert bodies(httpserver, "/auth/token") == [{"username": "alice", "password": "pw-123456"}]


@pytest.mark.parametrize(
    ("failing_path", "status", "what"),
    [
        pytest.param("/users", 409, "create user", id="create"),
        pytest.param("/auth/token", 401, "log in as alice", id="login"),
    ],
)
def test_a_failed_call_raises_naming_the_call_status_and_body(
    httpserver: HTTPServer, client: ServiceClient, failing_path: str, status: int, what: str
) -> None:
    httpserver.expect_request(failing_path).respond_with_json({"error": "nope"}, status=status)
    serve_users(httpserver)
    make_user = UserFactory(client)

    with pytest.raises(FactoryError) as caught:
        make_user(username="alice")

    message = str(caught.value)
    assert message.startswith(f"{what}: expected HTTP ")
    assert f"got {status} from POST {httpserver.url_for(failing_path)}" in message
    assert '"error"' in message
    assert "nope" in message
    assert make_user.created == []


def serve_products(httpserver: HTTPServer) -> None:
    def create_product(request: Request) -> Response:
        body = request.get_json()
        made = {"id": 5, **body, "created_by": request.headers.get("Authorization", "")}
        return Response(json.dumps(made), 201, mimetype="application/json")

    httpserver.expect_request("/products", method="POST").respond_with_handler(create_product)


def test_make_product_as_a_given_owner(httpserver: HTTPServer, client: ServiceClient) -> None:
    serve_products(httpserver)
    owner = User(3, "bob", "pw", "tok-bob")
    make_product = ProductFactory(client, UserFactory(client))

    product = make_product(owner, name="lamp", price=12.5)

    assert (product.id, product.name, product.price) == (5, "lamp", 12.5)
    assert product.created_by == "Bearer tok-bob", "created with the owner's token"
    assert product.owner is owner
    assert make_product.created == [product]


def test_make_product_makes_an_owner_when_none_is_given(
    httpserver: HTTPServer, client: ServiceClient
) -> None:
    serve_users(httpserver)
    serve_products(httpserver)
    make_user = UserFactory(client)

    product = ProductFactory(client, make_user)()

    assert make_user.created == [product.owner]
    assert product.created_by == f"Bearer {product.owner.token}"
    assert product.name.startswith("product-")
    assert product.price == 9.99


def test_make_product_failure_names_the_call(httpserver: HTTPServer, client: ServiceClient) -> None:
    httpserver.expect_request("/products").respond_with_data("upstream down", status=503)

    with pytest.raises(FactoryError, match=r"create product: expected HTTP 201, got 503 .*upstream down"):
        ProductFactory(client, UserFactory(client))(User(1, "u", "p", "t"))
