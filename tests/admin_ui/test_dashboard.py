"""Dashboard figures, aggregated in the database, against data whose answers are known."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recommender import dashboard
from recommender.models import Impression, Interaction, ModelVersion

from .conftest import track

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(db):
    return ModelVersion.objects.create(algorithm="x.EASE", status="ready")


def test_ctr_and_conversion_per_version_and_placement(user, other_user, items, version):
    # Version lists on "home": 4 shown, 2 clicked (one of them twice), 1 bought.
    track(user, items[:3], version=version, placement="home", clicks=[items[0], items[1]])
    track(
        user, items[:3], version=version, placement="home", clicks=[items[2]], purchases=[items[2]]
    )
    track(other_user, items[3:6], version=version, placement="home")
    track(other_user, items[3:6], version=version, placement="home")
    # Popular fallback lists on the API: 2 shown, 1 bought without a click event.
    track(user, items[6:], placement="", purchases=[items[7]])
    track(other_user, items[6:])
    # A view carrying a rec_id is not a click; an untracked click counts for nothing.
    view_list = track(user, items[:2], version=version, placement="item")
    Interaction.objects.create(user=user, item=items[0], event_type="view", rec_id=view_list.rec_id)
    Interaction.objects.create(user=user, item=items[0], event_type="click")

    by_version = {r.key: r for r in dashboard.rates_by_version()}
    assert (
        by_version[version.pk].shown,
        by_version[version.pk].clicked,
        by_version[version.pk].converted,
    ) == (5, 2, 1)
    assert by_version[version.pk].ctr == pytest.approx(0.4)
    assert by_version[version.pk].label == str(version)
    assert (by_version[None].shown, by_version[None].clicked, by_version[None].converted) == (
        2,
        1,
        1,
    )
    assert by_version[None].label == "no model (popular)"

    by_place = {r.key: r for r in dashboard.rates_by_placement()}
    assert set(by_place) == {"home", "item", ""}
    assert (by_place["home"].shown, by_place["home"].clicked, by_place["home"].converted) == (
        4,
        2,
        1,
    )
    assert by_place["home"].conversion == pytest.approx(0.25)
    assert (by_place["item"].shown, by_place["item"].clicked) == (1, 0)
    assert by_place[""].label == "(api)"


def test_rates_respect_the_window_and_the_click_events_setting(user, items, version, settings):
    track(
        user,
        items[:2],
        version=version,
        clicks=[items[0]],
        when=timezone.now() - timedelta(days=40),
    )
    track(user, items[:2], version=version, clicks=[items[0]])
    assert [(r.shown, r.clicked) for r in dashboard.rates_by_version(days=30)] == [(1, 1)]
    assert [(r.shown, r.clicked) for r in dashboard.rates_by_version(days=60)] == [(2, 2)]
    settings.RECOMMENDER = {**settings.RECOMMENDER, "CLICK_EVENTS": ["like"]}
    assert [(r.shown, r.clicked) for r in dashboard.rates_by_version(days=60)] == [(2, 0)]


def test_rates_take_one_query_however_many_groups(user, items):
    versions = [ModelVersion.objects.create(algorithm="x.A", status="ready") for _ in range(5)]
    for n, v in enumerate(versions):
        track(user, items[:2], version=v, placement=f"p{n}", clicks=[items[0]])
    with CaptureQueriesContext(connection) as queries:
        dashboard.rates_by_placement()
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        assert len(dashboard.rates_by_version()) == 5
    assert len(queries) == 2  # the grouped rates, then the names of the versions in one query


def test_interactions_and_active_users_per_day(user, other_user, items):
    now = timezone.now()
    yesterday = now - timedelta(days=1)
    for when, who, kind in [
        (now, user, "view"),
        (now, user, "view"),
        (now, other_user, "click"),
        (yesterday, user, "purchase"),
        (now - timedelta(days=50), user, "view"),
    ]:
        Interaction.objects.create(user=who, item=items[0], event_type=kind, timestamp=when)
    per_day = dashboard.interactions_per_day(days=7)
    assert len(per_day["days"]) == 7 and per_day["days"][-1] == timezone.localdate().isoformat()
    assert per_day["series"]["view"][-1] == 2 and sum(per_day["series"]["view"]) == 2
    assert per_day["series"]["click"][-1] == 1
    assert per_day["series"]["purchase"][-2:] == [1, 0]
    users = dashboard.active_users_per_day(days=7)
    assert users["users"][-2:] == [1, 2]
    assert dashboard.active_users(days=7) == 2
    assert dashboard.active_users(days=90) == 2


def test_catalogue_coverage_counts_distinct_active_items_shown(user, items):
    track(user, items[:3])
    track(user, items[2:5])
    track(user, [items[9]], when=timezone.now() - timedelta(days=40))  # outside the window
    items[4].is_active = False
    items[4].save()
    coverage = dashboard.catalogue_coverage(days=30)
    assert (coverage.shown, coverage.catalogue, coverage.lists) == (4, 9, 2)
    assert coverage.ratio == pytest.approx(4 / 9)
    assert dashboard.catalogue_coverage(days=60).shown == 5


def test_coverage_of_an_empty_window(items):
    coverage = dashboard.catalogue_coverage()
    assert (coverage.shown, coverage.lists, coverage.ratio) == (0, 0, 0.0)


def test_wilson_interval_and_z_test_against_known_values():
    low, high = dashboard.wilson_interval(10, 100)
    assert (round(low, 4), round(high, 4)) == (0.0552, 0.1744)
    assert dashboard.wilson_interval(0, 0) == (0.0, 0.0)
    z, p = dashboard.two_proportion_z_test(100, 1000, 130, 1000)
    assert z == pytest.approx(2.1022, abs=1e-3) and p == pytest.approx(0.0355, abs=1e-3)
    assert dashboard.two_proportion_z_test(0, 10, 0, 10) == (0.0, 1.0)


def test_version_metrics_are_oldest_first_and_bounded(db):
    for n in range(4):
        ModelVersion.objects.create(
            algorithm="x.A",
            status="ready",
            metrics={"default": {"ndcg@10": 0.1 * n}, "popularity": {"ndcg@10": 0.05}},
        )
    ModelVersion.objects.create(algorithm="x.A", status="failed", error="boom")
    rows = dashboard.version_metrics(limit=3)
    assert [r["default"]["ndcg@10"] for r in rows] == pytest.approx([0.1, 0.2, 0.3])
    assert rows[0]["popularity"]["ndcg@10"] == 0.05 and rows[0]["default"]["recall@10"] is None
    assert Impression.objects.count() == 0


def test_a_click_stamped_slightly_before_its_list_still_counts(user, items, version):
    shown = track(user, items[:2], version=version, when=timezone.now() - timedelta(days=29))
    Interaction.objects.create(
        user=user,
        item=items[0],
        event_type="click",
        rec_id=shown.rec_id,
        timestamp=shown.created_at - timedelta(hours=3),
    )  # client clock
    assert [(r.shown, r.clicked) for r in dashboard.rates_by_version(days=30)] == [(1, 1)]
