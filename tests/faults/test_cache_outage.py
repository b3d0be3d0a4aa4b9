"""The cache server (Redis) is down: every page and API call still answers 200, from lists
computed on the fly or from popularity, and events are still stored."""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from recommender import cache
from recommender.models import Interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(trained_version, planted, settings):
    settings.ROOT_URLCONF = "tests.faults.urls"
    return planted


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_every_read_answers_while_the_cache_is_down(site, cache_down, trained_version, caplog):
    someone = site["users"][0]
    assert cache.get_current_version() is None and not cache.set_value("probe", 1, 10)
    with caplog.at_level(logging.WARNING, logger="recommender"):
        mine = signed_in(someone).get("/api/recommendations/", {"limit": 5})
        anonymous = APIClient().get("/api/recommendations/")
        similar = APIClient().get("/api/items/books-0/similar/")
        popular = APIClient().get("/api/items/popular/", {"category": "music"})
        staff_view = signed_in(site["users"][1])
    assert mine.status_code == 200 and mine.json()["source"] == "computed"
    assert mine.json()["model_version"] == trained_version.pk
    assert len(mine.json()["results"]) == 5
    assert anonymous.status_code == 200 and anonymous.json()["source"] == "popular"
    assert similar.status_code == 200 and similar.json()["source"] == "computed"
    assert popular.status_code == 200 and popular.json()["results"]
    assert staff_view.get("/api/me/data/").status_code == 200
    assert "serving without the cache" in caplog.text


def test_pages_with_the_template_tags_answer_while_the_cache_is_down(site, cache_down):
    client = signed_in(site["users"][2])
    page = client.get("/page/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="mine">computed:' in body and 'id="top">popular:' in body
    anonymous = APIClient().get("/page/")
    assert anonymous.status_code == 200 and 'id="mine">popular:' in anonymous.content.decode()


def test_events_are_stored_and_acknowledged_while_the_cache_is_down(
    site, cache_down, django_capture_on_commit_callbacks
):
    someone = site["users"][3]
    batch = [
        {"item": "games-1", "event_type": "purchase", "event_id": f"outage-{n}"} for n in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):  # the refresh it schedules fails
        response = signed_in(someone).post("/api/interactions/", batch, format="json")
    assert response.status_code == 201 and len(response.json()["created"]) == 3
    stored = Interaction.objects.filter(event_id__startswith="outage-", user=someone)
    assert stored.count() == 3
    # The new purchase already shapes the computed list (the user's history is read live).
    again = signed_in(someone).get("/api/recommendations/").json()
    assert again["source"] == "computed"
    assert "games-1" not in [r["external_id"] for r in again["results"]]


def test_throttles_open_while_the_cache_is_down(site, cache_down, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "THROTTLE_RATES": {"anon": "1/minute"}}
    assert [APIClient().get("/api/items/").status_code for _ in range(3)] == [200] * 3


def test_when_the_cache_comes_back_lists_are_cached_again(
    site, cache_down, settings, trained_version
):
    from recommender import services

    someone = site["users"][0]
    assert signed_in(someone).get("/api/recommendations/").json()["source"] == "computed"
    settings.RECOMMENDER = {**settings.RECOMMENDER, "CACHE_ALIAS": "default"}
    services.refresh_all(trained_version.pk)
    body = signed_in(someone).get("/api/recommendations/").json()
    assert body["source"] == "cached" and body["model_version"] == trained_version.pk
