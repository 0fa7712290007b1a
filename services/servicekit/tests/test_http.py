"""servicekit.http's body parsing, read back as the views get it (the 4xx answers: the services' tests)."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from flask import Flask
from servicekit.http import json_object

DIGIT_LIMIT = sys.get_int_max_str_digits()


def parsed(body: str) -> dict[str, Any]:
    """What json_object hands a view for `body`, posted as JSON."""
    app = Flask(__name__)
    with app.test_request_context("/", method="POST", data=body, content_type="application/json"):
        return json_object()


@pytest.mark.parametrize(
    ("number", "value"),
    [
        pytest.param("9" * DIGIT_LIMIT, 10**DIGIT_LIMIT - 1, id="at-the-digit-limit-exact"),
        pytest.param(
            "-" + "9" * (DIGIT_LIMIT - 1), -(10 ** (DIGIT_LIMIT - 1) - 1), id="negative-at-the-limit"
        ),
        pytest.param("9" * (DIGIT_LIMIT + 1), math.inf, id="one-digit-over-positive-infinity"),
        pytest.param("-" + "9" * (DIGIT_LIMIT + 1), -math.inf, id="one-digit-over-negative-infinity"),
    ],
)
def test_integers_past_pythons_digit_limit_become_an_infinity_of_their_sign(
    number: str, value: float
) -> None:
    # Each field's own range check then refuses them: the sign decides which end of it.
    assert parsed('{"n": ' + number + "}") == {"n": value}
