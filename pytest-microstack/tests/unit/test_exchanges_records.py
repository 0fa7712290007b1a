"""_exchanges.records and .doubles: report lines, masking, callers, and the doubles' checks of their input."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_microstack._errors import DoubleError
from pytest_microstack._exchanges.doubles import MALFORMED_JSON, Double, Doubles
from pytest_microstack._exchanges.records import Exchange, _exchange, in_order, masked, named
from pytest_microstack._reports.masking import Masker

CALL = Exchange(
    service="user-service",
    caller="product-service",
    method="GET",
    path="/users/authenticate",
    status=200,
    start=10.0,
    duration_ms=3.14,
)


@pytest.mark.parametrize(
    ("exchange", "line"),
    [
        (CALL, "product-service → user-service  GET /users/authenticate  200  3.1 ms"),
        (
            Exchange("kv", "web", sent=12, received=30, duration_ms=1.0),
            "web → kv  TCP  12 B sent, 30 B received  1.0 ms",
        ),
        (
            Exchange("api", "tests", error="could not connect to the service: refused"),
            "tests → api  (no request)  0.0 ms  (could not connect to the service: refused)",
        ),
        (
            Exchange("api", "tests", method="GET", path="/x", status=500, double="GET /x", duration_ms=2),
            "tests → api  GET /x  500  2.0 ms  (double: GET /x)",
        ),
        (
            Exchange("api", "tests", method="GET", path="/slow", pending=True),
            "tests → api  GET /slow  ---  in flight",
        ),
    ],
    ids=["http", "tcp", "refused", "double", "in-flight"],
)
def test_one_line_per_exchange(exchange: Exchange, line: str) -> None:
    assert exchange.line() == line


def test_records_become_exchanges_and_the_proxys_own_fields_are_left_out() -> None:
    record: dict[str, Any] = {
        "service": "api",
        "caller": "172.20.0.3",
        "method": "GET",
        "path": "/",
        "status": 200,
        "request_headers": [["Host", "api"]],
        "seq": 4,
        "conn": 1234,
    }
    exchange = _exchange(record)
    assert exchange.request_headers == (("Host", "api"),)
    assert exchange == Exchange("api", "172.20.0.3", "GET", "/", 200, request_headers=(("Host", "api"),))


def test_callers_are_named_by_address_and_anything_else_is_the_tests() -> None:
    calls = [Exchange("api", "172.20.0.3"), Exchange("api", "172.20.0.1")]
    assert [call.caller for call in named(calls, {"172.20.0.3": "web"})] == ["web", "tests"]


def test_exchanges_of_several_proxies_are_ordered_by_start() -> None:
    first, second, third = (Exchange("a", "t", start=start) for start in (1.0, 2.0, 3.0))
    assert in_order([[first, third], [second]]) == [first, second, third]


def test_secret_headers_cookies_fields_and_known_values_are_masked() -> None:
    exchange = Exchange(
        "api",
        "tests",
        path="/login?key=known-secret-value",
        request_headers=(("Authorization", "Bearer abc.def"), ("Cookie", "s=1"), ("Accept", "*/*")),
        response_headers=(("Set-Cookie", "s=2"),),
        request_body='{"username": "ann", "password": "hunter22"}',
        response_body='{"access_token": "eyJ.x.y", "token_type": "bearer", "n": 1',  # cut at 1 KiB: not JSON
    )
    hidden = masked(exchange, Masker({"known-secret-value"}))
    assert hidden.path == "/login?key=***"
    assert hidden.request_headers == (("Authorization", "***"), ("Cookie", "***"), ("Accept", "*/*"))
    assert hidden.response_headers == (("Set-Cookie", "***"),)
    assert hidden.request_body == '{"username": "ann", "password": "***"}'
    assert hidden.response_body == '{"access_token": "***", "token_type": "***", "n": 1'


class FakeProxy:
    """Stands in for a proxy's control port: keeps the rules it is sent."""

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []

    def __call__(self, method: str, path: str, body: Any) -> Any:
        if method == "PUT":
            self.rules = list(body)
        elif method == "DELETE":
            self.rules = []
        return self.rules


def test_each_answering_method_sets_every_rule_of_the_double_in_order() -> None:
    proxy = FakeProxy()
    double = Double("api", proxy, lambda since: [])
    double.on("get", "/a").malformed_json()
    double.on("*", "/b/*").nth(2).redirect("/c")
    double.on("POST", "/d").close()
    double.on("GET", "/e").passthrough(503)
    assert [(rule["id"], rule["respond"]) for rule in proxy.rules] == [
        (
            "GET /a",
            {
                "status": 200,
                "body": "eyJ1bnRlcm1pbmF0ZWQiOiBbMSwgMg==",
                "headers": [["Content-Type", "application/json"]],
            },
        ),
        ("* /b/* (call 2)", {"status": 302, "body": "", "headers": [["Location", "/c"]]}),
        ("POST /d", {"close": True}),
        ("GET /e", {"pass_status": 503}),
    ]
    assert MALFORMED_JSON == b'{"unterminated": [1, 2'
    double.remove()
    assert proxy.rules == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda double: double.on("GET", "users"), "path pattern 'users' must start with /"),
        (lambda double: double.on("GET", "/x").respond(42), "status 42 is not a three-digit code"),
        (lambda double: double.on("GET", "/x").respond(rate=0), "rate 0 must be more than 0 bytes/s"),
        (lambda double: double.on("GET", "/x").nth(0), r"nth\(0\): calls are counted from 1"),
        (lambda double: double.on("GET", "/x").passthrough(1000), "status 1000 is not a three-digit code"),
    ],
    ids=["path", "status", "rate", "nth", "passthrough"],
)
def test_bad_rules_are_refused_naming_the_service(make: Any, message: str) -> None:
    with pytest.raises(DoubleError, match=f"^api: {message}"):
        make(Double("api", FakeProxy(), lambda since: []))


def test_a_proxy_refusing_the_rules_is_a_double_error() -> None:
    def refuse(method: str, path: str, body: Any) -> Any:
        raise OSError("connection refused")

    with pytest.raises(DoubleError, match="api: its proxy refused the rules: connection refused"):
        Double("api", refuse, lambda since: []).on("GET", "/").respond(500)


def test_doubles_exist_only_for_proxied_services_and_are_made_once() -> None:
    made: list[str] = []

    def make(service: str) -> Double:
        made.append(service)
        return Double(service, FakeProxy(), lambda since: [])

    doubles = Doubles(make, ["api"])
    assert doubles["api"] is doubles["api"]
    assert made == ["api"]
    assert list(doubles) == ["api"]
    assert len(doubles) == 1
    with pytest.raises(KeyError, match="'web' has no double: only proxied services do \\(api\\)"):
        doubles["web"]


def test_a_stack_without_proxies_says_why_it_has_no_doubles() -> None:
    doubles = Doubles(lambda service: pytest.fail("no double is made"), [])

    with pytest.raises(KeyError, match="none: this stack records no exchanges \\(stack_exchanges = false"):
        doubles["api"]
