"""Forgetting a user whose impressions still wait in an impression queue."""

import pytest

from recommender import services, tracking
from recommender.models import Impression

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(settings):
    """Impressions of finished requests wait in the process's queue (no timer fires)."""
    settings.RECOMMENDER = {**settings.RECOMMENDER, "IMPRESSION_FLUSH_SECONDS": 60}
    yield
    tracking._queue.take()


def test_forget_drops_the_users_queued_impressions_and_keeps_the_others(
    planted, in_request, queued
):
    ann, bob = planted["users"][:2]
    with in_request():
        tracking.record_impression(services.recommend_for_user(ann, limit=2), user=ann)
        tracking.record_impression(services.recommend_for_user(bob, limit=2), user=bob)
    assert tracking.pending() == 2 and not Impression.objects.exists()

    assert services.forget_user(ann)["impressions"] == 1
    assert tracking.flush() == 1
    assert list(Impression.objects.values_list("user", flat=True)) == [bob.pk]


def test_a_late_sweep_deletes_impressions_written_after_the_forget(planted, queued):
    ann = planted["users"][0]
    services.forget_user(ann)
    # Another process writes a list it showed ann just before.
    tracking.record_impression(services.recommend_for_user(ann, limit=2), user=ann)
    assert Impression.objects.filter(user=ann).count() == 1
    assert services.forget_late_impressions(ann.pk) == 1
    assert not Impression.objects.filter(user=ann).exists()


def test_forget_schedules_the_late_sweep_only_when_impressions_can_wait(
    planted, queued, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from recommender import tasks

    sent = []
    monkeypatch.setattr(tasks, "enqueue", lambda task, *args, **kw: sent.append((task, args, kw)))
    ann = planted["users"][0]
    with django_capture_on_commit_callbacks(execute=True):
        services.forget_user(ann)
    assert sent == [(tasks.forget_late_impressions, (ann.pk,), {"countdown": 70.0})]

    sent.clear()
    settings.RECOMMENDER = {**settings.RECOMMENDER, "IMPRESSION_FLUSH_SECONDS": 0}
    with django_capture_on_commit_callbacks(execute=True):
        services.forget_user(ann)
    assert sent == []
