"""Schemathesis against /api/schema/: every operation, generated valid and invalid input,
signed in as staff (who may call every operation) and as a user; no 5xx, and every answer
(status, content type, headers, body) is one the schema documents.

Answers that break the schema in a way already known are listed in ``KNOWN`` with the reason,
each pinned by a strict ``xfail`` test in test_known_schema_gaps.py; they must still not be
a 5xx. Anything else the fuzzer finds fails the test.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis import checks

from .known import known_gap

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

# Generating the schema needs no database; the requests then run on the test's database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())
pytestmark = pytest.mark.usefixtures("quiet_connections", "planted")


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def call_and_check(case, token: str) -> None:
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, response.text[:500]
    if known_gap(case, response) is None:
        case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@fuzz(25)
def test_as_staff(case, staff_token):
    call_and_check(case, staff_token)


@schema.parametrize()
@fuzz(10)
def test_as_a_user(case, user_token):
    call_and_check(case, user_token)
