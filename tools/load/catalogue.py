"""Fill the catalogue fast through the public API, and read every product back."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# user-service answers 503 with Retry-After when no password-hash slot is free (a
# sign-up or login is refused before any work is done, so sending it again is safe):
# wait as told and send it again, a bounded number of times.
BUSY_RETRIES = Retry(
    total=30,  # as the flow's logins: a machine another run keeps busy refuses several in a row
    connect=0,
    read=0,
    status_forcelist=(503,),
    allowed_methods=frozenset({"POST"}),
    respect_retry_after_header=True,
    raise_on_status=False,
)


def _patient_session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=BUSY_RETRIES))
    return session


@dataclass(frozen=True)
class Listed:
    """A product as the API acknowledged (201) or listed it."""

    id: int
    name: str
    price: float


def new_user(user_service_url: str) -> dict[str, str]:
    """A new user's credentials (each costs a password hash: make few)."""
    credentials = {"username": f"load-{secrets.token_hex(5)}", "password": secrets.token_urlsafe(18)}
    with _patient_session() as session:
        created = session.post(f"{user_service_url}/users", json=credentials, timeout=30)
    assert created.status_code == 201, created.text
    return credentials


def new_users(user_service_url: str, count: int) -> list[dict[str, str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: new_user(user_service_url), range(count)))


def sign_up(user_service_url: str) -> str:
    """A new user's token."""
    credentials = new_user(user_service_url)
    with _patient_session() as session:
        login = session.post(f"{user_service_url}/auth/token", json=credentials, timeout=30)
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    return token


def seed(product_service_url: str, tokens: list[str], count: int, workers: int = 16) -> list[Listed]:
    """Create `count` products over `workers` keep-alive connections; returns what got 201.

    Anything but 201 fails the seeding: a load figure on a half-filled catalogue would mislead.
    """
    local = threading.local()

    def create(number: int) -> Listed:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        body = {"name": f"seed-{number}-{secrets.token_hex(3)}", "price": round(number * 0.37 % 1000, 2)}
        headers = {"Authorization": f"Bearer {tokens[number % len(tokens)]}"}
        response = local.session.post(
            f"{product_service_url}/products", json=body, headers=headers, timeout=30
        )
        assert response.status_code == 201, (
            f"seeding product {number}: {response.status_code} {response.text}"
        )
        made = response.json()
        return Listed(made["id"], made["name"], made["price"])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(create, range(count)))


def read_all(product_service_url: str, page_size: int = 100) -> dict[int, Listed]:
    """Every product, following the Link rel="next" pages from the first."""
    found: dict[int, Listed] = {}
    url: str | None = f"{product_service_url}/products?limit={page_size}"
    with requests.Session() as session:
        while url:
            response = session.get(url, timeout=30)
            assert response.status_code == 200, response.text
            for item in response.json():
                found[item["id"]] = Listed(item["id"], item["name"], item["price"])
            following = response.links.get("next", {}).get("url")
            url = urljoin(product_service_url, following) if following else None
    return found


def missing_or_changed(acknowledged: Iterable[Listed], listed: dict[int, Listed]) -> list[str]:
    """Products acknowledged with 201 that are not listed, or listed differently."""
    problems = []
    for product in acknowledged:
        shown = listed.get(product.id)
        if shown != product:
            problems.append(f"{product} is listed as {shown}")
    return problems
