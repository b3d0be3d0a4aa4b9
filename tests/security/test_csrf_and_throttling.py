"""Session-authenticated writes need the CSRF token; token clients do not; throttles answer
429 per caller, and a spoofed X-Forwarded-For does not buy an anonymous caller more."""

from __future__ import annotations

import pytest
from django.utils.crypto import get_random_string

from recommender.models import Interaction, Item, ModelVersion

from .conftest import client_for, set_rates

pytestmark = pytest.mark.django_db

# (method, path, body, success status) of every write; item i1 exists.
USER_WRITES = [
    ("post", "/api/interactions/", {"item": "i0", "event_type": "view"}, 201),
    ("delete", "/api/me/data/", None, 200),
]
STAFF_WRITES = [
    ("post", "/api/items/", {"external_id": "new-1", "title": "New"}, 201),
    ("put", "/api/items/i1/", {"external_id": "i1", "title": "Put"}, 200),
    ("patch", "/api/items/i1/", {"title": "Patched"}, 200),
    ("delete", "/api/items/i1/", None, 204),
    ("post", "/api/models/train/", {}, 202),
]


def state() -> tuple:
    return (
        sorted(Item.objects.values_list("external_id", "title")),
        Interaction.objects.count(),
        ModelVersion.objects.count(),
    )


def with_csrf_token(client):
    """Give a session client the CSRF cookie a page would have set; returns the header."""
    secret = get_random_string(32)
    client.cookies["csrftoken"] = secret
    return {"HTTP_X_CSRFTOKEN": secret}


def _ids(writes):
    return [f"{m.upper()} {p}" for m, p, _, _ in writes]


@pytest.mark.parametrize(
    "method,path,body,ok", USER_WRITES + STAFF_WRITES, ids=_ids(USER_WRITES + STAFF_WRITES)
)
def test_a_session_write_without_the_csrf_token_is_refused(
    method, path, body, ok, staff, items, django_capture_on_commit_callbacks
):
    Interaction.objects.create(user=staff, item=items[2], event_type="view")
    client = client_for(staff, csrf=True)
    before = state()
    with django_capture_on_commit_callbacks(execute=False):
        refused = getattr(client, method)(path, body, format="json")
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        assert state() == before
        wrong = {"HTTP_X_CSRFTOKEN": get_random_string(32)}
        with_csrf_token(client)
        assert getattr(client, method)(path, body, format="json", **wrong).status_code == 403
        assert state() == before
        accepted = getattr(client, method)(path, body, format="json", **with_csrf_token(client))
    assert accepted.status_code == ok, accepted.content


@pytest.mark.parametrize("method,path,body,ok", USER_WRITES, ids=_ids(USER_WRITES))
def test_token_clients_need_no_csrf_token(method, path, body, ok, user, items):
    client = client_for(user, token=True)
    client.handler.enforce_csrf_checks = True
    assert getattr(client, method)(path, body, format="json").status_code == ok


def test_reads_need_no_csrf_token(user, items):
    client = client_for(user, csrf=True)
    for path in ("/api/recommendations/", "/api/items/", "/api/me/data/"):
        assert client.get(path).status_code == 200


# -- throttling ------------------------------------------------------------------------------


def _throttled(response):
    assert response.status_code == 429, response.content
    assert "throttled" in response.json()["detail"].lower()
    assert int(response["Retry-After"]) > 0
    return True


def test_anonymous_callers_are_throttled(settings, items):
    set_rates(settings, anon="3/minute")
    client = client_for(None)
    assert [client.get("/api/items/").status_code for _ in range(3)] == [200] * 3
    assert _throttled(client.get("/api/recommendations/"))


def test_each_user_has_their_own_budget(settings, user, other_user, items):
    set_rates(settings, user="2/minute")
    ann, bob = client_for(user), client_for(other_user, token=True)
    assert [ann.get("/api/recommendations/").status_code for _ in range(2)] == [200, 200]
    assert _throttled(ann.get("/api/me/data/"))
    assert bob.get("/api/recommendations/").status_code == 200
    # Ann's second credential is the same user: it shares her budget.
    assert _throttled(client_for(user, token=True).get("/api/items/"))


def test_ingestion_is_throttled_without_storing_the_refused_batch(settings, user, items):
    set_rates(settings, ingest="2/minute")
    client = client_for(user)
    for _ in range(2):
        assert (
            client.post(
                "/api/interactions/", {"item": "i0", "event_type": "view"}, format="json"
            ).status_code
            == 201
        )
    assert _throttled(
        client.post("/api/interactions/", [{"item": "i1", "event_type": "view"}] * 5, format="json")
    )
    assert Interaction.objects.count() == 2


def test_a_spoofed_forwarded_for_does_not_reset_the_anonymous_budget(settings, items):
    set_rates(settings, anon="2/minute")
    client = client_for(None)
    answers = [
        client.get("/api/items/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(4)
    ]
    assert answers.count(429) >= 2


def test_with_num_proxies_set_spoofing_does_not_help(settings, items):
    set_rates(settings, anon="2/minute")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    client = client_for(None)
    answers = [
        client.get("/api/items/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(4)
    ]
    assert answers == [200, 200, 429, 429]
