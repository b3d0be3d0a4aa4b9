"""Gaps the fuzzer found: those still in fuzz/known.py are strict xfails (when one is fixed its
test passes, pytest reports it, and its entry in KNOWN goes, so the fuzzer checks that case
again); the fixed ones stay here as regression tests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from recommender.models import Item

from .known import KNOWN

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


_SCHEMA: dict = {}


def documented(client, path: str, method: str = "get") -> set[int]:
    if not _SCHEMA:
        _SCHEMA.update(client.get("/api/schema/", {"format": "json"}).json())
    schema = _SCHEMA
    return {int(code) for code in schema["paths"][path][method]["responses"]}


@pytest.mark.parametrize("path", ["/api/items/", "/api/models/"])
def test_an_invalid_page_answers_a_documented_status(staff_client, items, path):
    response = staff_client.get(path, {"page": 0})
    assert response.status_code in documented(staff_client, path)


def test_a_non_integer_version_id_answers_json(staff_client):
    response = staff_client.get("/api/models/0.5/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_wrong_credentials_for_a_token_are_a_documented_400(staff_client, user):
    response = APIClient().post(
        "/api/token/", {"username": user.email, "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert 400 in documented(staff_client, "/api/token/", "post")


@pytest.mark.xfail(strict=True, reason=KNOWN["item-popular"][1])
def test_an_item_named_popular_is_reachable(staff_client, items):
    Item.objects.create(external_id="popular", title="Called popular")
    response = staff_client.get("/api/items/popular/")
    assert response.json().get("external_id") == "popular"


def test_every_known_gap_has_its_xfail_test():
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    assert all(f'KNOWN["{name}"]' in source for name in KNOWN)
