"""Tracking end to end: a page shows a list, a click carries its rec_id, the event names it."""

import re

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from rest_framework.test import APIClient

from recommender import tracking
from recommender.models import Impression, Interaction

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.pages")]


def test_render_click_interaction_with_the_lists_model_version(
    planted, cached_lists, trained_version, contract
):
    user = planted["users"][7]
    cached_lists(user, ["music-4", "books-1", "games-8"])
    browser = Client()
    browser.force_login(user)
    page = browser.get("/shop/").content.decode()

    links = re.findall(r'href="(/items/[^"]+)" data-recommender-item="([^"]+)"', page)
    assert [item for _, item in links] == ["music-4", "books-1", "games-8"]
    rec_id = re.search(r'data-recommender-rec-id="(\w+)"', page).group(1)
    assert all(href.endswith(f"?rec_id={rec_id}") for href, _ in links)
    shown = Impression.objects.get(rec_id=rec_id)
    assert (shown.user, shown.model_version, shown.placement) == (user, trained_version, "widget")

    # What track.js sends when the second link is clicked.
    api = APIClient()
    api.force_authenticate(user)
    click = {
        "item": "books-1",
        "event_type": "click",
        "rec_id": rec_id,
        "event_id": f"click:{rec_id}:books-1",
    }
    assert contract(api.post("/api/interactions/", click, format="json")).status_code == 201
    assert api.post("/api/interactions/", click, format="json").status_code == 200
    event = Interaction.objects.get(event_id=click["event_id"])
    assert (event.user, event.item.external_id) == (user, "books-1")
    assert (event.rec_id, event.source_version) == (rec_id, trained_version)


def test_an_api_list_clicked_later_links_to_its_version(planted, cached_lists, trained_version):
    user = planted["users"][8]
    cached_lists(user, ["games-0", "games-1"])
    api = APIClient()
    api.force_authenticate(user)
    rec_id = api.get("/api/recommendations/").json()["rec_id"]
    api.post(
        "/api/interactions/",
        [{"item": "games-1", "event_type": "purchase", "rec_id": rec_id}],
        format="json",
    )
    assert Interaction.objects.get(rec_id=rec_id).source_version == trained_version


def test_anonymous_pages_are_tracked_without_a_user(planted):
    page = Client().get("/shop/").content.decode()
    rec_id = re.search(r'data-recommender-rec-id="(\w+)"', page).group(1)
    shown = Impression.objects.get(rec_id=rec_id)
    assert shown.user is None and shown.source == "popular" and len(shown.item_ids) == 3


def test_a_request_writes_its_impressions_in_one_insert_after_the_response(
    planted, in_request, django_assert_num_queries
):
    from recommender import services

    answers = [services.popular_items(limit=2) for _ in range(3)]
    with in_request():
        for answer in answers:
            tracking.record_impression(answer, placement="p")
        assert tracking.pending() == 3 and not Impression.objects.exists()
        request_finished.disconnect(close_old_connections)  # as the test client does
        try:
            with django_assert_num_queries(1):
                request_finished.send(sender=None)  # (in_request sends it again: a no-op)
        finally:
            request_finished.connect(close_old_connections)
    assert Impression.objects.filter(placement="p").count() == 3


def test_a_full_buffer_is_written_before_the_request_ends(planted, in_request, settings):
    from recommender import services

    settings.RECOMMENDER = {**settings.RECOMMENDER, "IMPRESSION_BUFFER_SIZE": 2}
    with in_request():
        for _ in range(3):
            tracking.record_impression(services.popular_items(limit=1))
        assert Impression.objects.count() == 2 and tracking.pending() == 1
    assert Impression.objects.count() == 3


def test_outside_a_request_impressions_are_written_at_once(planted):
    from recommender import services

    answer = services.popular_items(limit=2)
    tracking.record_impression(answer, placement="email")
    assert Impression.objects.get(rec_id=answer.rec_id).placement == "email"


def test_an_empty_list_is_not_tracked(items):
    from recommender import services

    tracking.record_impression(services.popular_items(limit=3))
    assert not Impression.objects.exists()


def test_the_click_script_is_shipped():
    from django.contrib.staticfiles import finders

    script = open(finders.find("recommender/track.js")).read()
    assert '"click"' in script and "rec_id" in script and "X-CSRFToken" in script


def test_a_request_never_finished_leaves_nothing_for_the_next(planted, in_request, caplog):
    from django.core.signals import request_started

    from recommender import services

    request_started.disconnect(close_old_connections)
    try:
        request_started.send(sender=None)
        tracking.record_impression(services.popular_items(limit=2), placement="lost")
        with in_request():  # the server skipped request_finished: the leftover is dropped
            assert tracking.pending() == 0
    finally:
        request_started.connect(close_old_connections)
    assert not Impression.objects.filter(placement="lost").exists()
    assert "never signalled" in caplog.text
