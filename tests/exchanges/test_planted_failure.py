"""A planted failing scenario: its report shows what product-service said to user-service.

The scenario runs in a pytest of its own (its own stack), as a user's failing
test would: the terminal, the JUnit XML and the artifacts folder must all show
the call product-service made to user-service, with the token masked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
# The planted run is a run of its own: a run id inherited from a tool that set one
# (bench does) would give it this run's project, and its teardown would take this
# run's stack with it.
OWN_RUN_ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "MICROSTACK_RUN_ID"}
CALL = "product-service → user-service  GET /users/authenticate  200"
PLANTED = """
import secrets


def test_planted_scenario_fails_after_a_call_between_services(service_client):
    users, products = service_client("user-service"), service_client("product-service")
    name, password = f"user-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    assert users.post("/users", json={"username": name, "password": password}).status_code == 201
    token = users.post("/auth/token", json={"username": name, "password": password}).json()["access_token"]
    answer = products.get("/products/validate-user", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 418, "planted: fails after product-service called user-service"
"""


@pytest.mark.integration
def test_a_failing_scenarios_report_shows_the_call_between_services(tmp_path: Path) -> None:
    planted = tmp_path / "test_planted.py"
    planted.write_text(PLANTED)
    junit, artifacts = tmp_path / "junit.xml", tmp_path / "artifacts"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(planted), "-c", str(REPOSITORY / "pytest.ini"),
         "--rootdir", str(REPOSITORY), "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--junitxml={junit}", "--stack-artifacts", str(artifacts)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300, check=False,
        env=OWN_RUN_ENVIRONMENT,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "exchanges during call" in result.stdout
    assert CALL in result.stdout, result.stdout
    system_out = " ".join(element.text or "" for element in ET.parse(junit).iter("system-out"))
    assert CALL in system_out
    [folder] = [path for path in artifacts.iterdir() if path.is_dir()]
    assert CALL in (folder / "exchanges.txt").read_text()
    records = [json.loads(line) for line in (folder / "exchanges.jsonl").read_text().splitlines()]
    authenticate = next(record for record in records if record["path"] == "/users/authenticate")
    assert ["Authorization", "***"] in authenticate["request_headers"]
    assert "Bearer" not in (folder / "exchanges.jsonl").read_text()
    [timeline] = artifacts.glob("timeline-*.html")  # the run's timeline: one file, no network
    page = timeline.read_text()
    data = json.loads(page.split("id='timeline-data'>", 1)[1].split("</script>", 1)[0])
    assert CALL in [exchange["line"][: len(CALL)] for exchange in data["exchanges"]]
    assert [test["outcome"] for test in data["tests"]] == ["failed"]
