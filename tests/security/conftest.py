"""Fixtures of the security tests: two users with data of their own, and signed-in clients."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommender import cache, services, serving
from recommender.models import Impression


@pytest.fixture(autouse=True)
def clean_state():
    """Throttle counts, cached lists and loaded scorers must not leak between tests."""
    caches["default"].clear()
    serving._SCORERS.clear()
    yield
    caches["default"].clear()
    serving._SCORERS.clear()


def set_rates(settings, **rates) -> None:
    """Throttle rates for this test, by scope ("anon", "user", "ingest")."""
    settings.RECOMMENDER = {**settings.RECOMMENDER, "THROTTLE_RATES": rates}


def client_for(user=None, *, csrf: bool = False, token: bool = False) -> APIClient:
    """A client signed in as ``user``: by session (``csrf`` enforces the CSRF check, as a
    browser's requests meet it) or by API token; anonymous when ``user`` is None."""
    client = APIClient(enforce_csrf_checks=csrf)
    if user is None:
        return client
    if token:
        key = Token.objects.get_or_create(user=user)[0].key
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    else:
        client.force_login(user)
    return client


@pytest.fixture
def footprints(user, other_user, items):
    """Both users have events, a tracked list and a cached list; returns their event ids."""
    mine = services.record_events(
        [
            {"item": "i0", "event_type": "like", "event_id": "ann-1"},
            {"item": "i1", "event_type": "view", "event_id": "ann-2"},
        ],
        user=user,
    )
    theirs = services.record_events(
        [
            {"item": "i5", "event_type": "purchase", "event_id": "bob-1"},
            {"item": "i6", "event_type": "rating", "value": 5, "event_id": "bob-2"},
        ],
        user=other_user,
    )
    assert len(mine.created) == 2 and len(theirs.created) == 2
    Impression.objects.create(user=user, item_ids=["i2"], placement="t")
    Impression.objects.create(user=other_user, item_ids=["i7", "i8"], placement="t")
    return {"ann": ["ann-1", "ann-2"], "bob": ["bob-1", "bob-2"]}


@pytest.fixture
def bobs_cached_list(other_user, items, db):
    """A cached list for Bob only (items i9, i8, i7), under an active pointer."""
    from recommender.models import ModelVersion

    version = ModelVersion.objects.create(algorithm="test", status="ready")
    pks = {i.external_id: i.pk for i in items}
    assert cache.set_lists(
        version.pk, {other_user.pk: [(pks["i9"], 3.0), (pks["i8"], 2.0), (pks["i7"], 1.0)]}
    )
    assert cache.set_current_version(version.pk)
    return ["i9", "i8", "i7"]
