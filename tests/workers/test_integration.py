"""A real Celery worker on the machine's Redis: training, fan-out refreshes, per-event
refreshes, the training lock, cache outages and the atomic switch of versions.

How the worker shares the test database: these tests start Celery's own test worker
(``celery.contrib.testing.worker.start_worker``) in a thread of the test process, with a
thread pool, not a subprocess. It takes its tasks from Redis like any worker (nothing is
eager), but it sees the test database that pytest-django set up: on PostgreSQL every worker
thread opens its own connection to the test database; on SQLite, the in-memory test database
is opened in shared-cache mode, which other threads of one process can open and a subprocess
cannot. The tests are ``transaction=True`` so the worker reads committed data, and
``on_commit`` hooks (refresh after events, after activation) fire as in production.
Queues and cache keys carry a per-test suffix, so concurrent test runs on one Redis never
take each other's tasks; both are deleted afterwards, and the worker is stopped.
"""

import threading
import time

import pytest

from recommender import cache, services, tasks
from recommender.models import ModelVersion
from tests.workers import backends
from tests.workers.conftest import cache_down, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning"),
]


@pytest.fixture
def ease(settings, tmp_path):
    """Train with EASE (fast, no TensorFlow), artifacts in a temporary folder."""
    settings.MEDIA_ROOT = tmp_path
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "BACKEND": "recommender.ml.baselines.EASERecommender",
        "BACKEND_PARAMS": {"l2": 10.0},
        "REFRESH_CHUNK_SIZE": 7,
        "REFRESH_DEBOUNCE_SECONDS": 0.2,
    }


def _pointer_is(version_id):
    return lambda: cache.get_current_version() == version_id


def test_train_then_lists_cached_then_an_event_refreshes_its_user(worker, ease, planted, task_log):
    from celery.result import AsyncResult

    users = planted["users"]
    sent = tasks.train_model.delay()
    assert isinstance(sent, AsyncResult) and not worker.conf.task_always_eager  # a real worker
    version_id = sent.get(timeout=120)
    assert ModelVersion.objects.get(pk=version_id).is_active
    wait_for(_pointer_is(version_id), message="the pointer to move to the new version")
    # 40 users in chunks of 7 (a chunk's postrun signal may follow the chord's callback).
    wait_for(lambda: task_log.count("recommender.tasks.score_chunk") == 6, message="6 chunks")
    assert all(cache.get_list(version_id, u.pk)["version"] == version_id for u in users)
    user = users[0]
    assert services.recommend_for_user(user, limit=5).source == "cached"

    before = cache.get_list(version_id, user.pk)
    bought = before["items"][0][0]
    external_id = _external_id(bought)
    services.record_events([{"item": external_id, "event_type": "purchase"}], user=user)

    after = wait_for(
        lambda: _newer_list(version_id, user.pk, before["at"]),
        message="the user's list to be refreshed",
    )
    assert bought not in dict(after["items"])
    answer = services.recommend_for_user(user, limit=5)
    assert answer.source == "cached" and bought not in [r.item.pk for r in answer]


def _external_id(pk):
    from recommender.models import Item

    return Item.objects.get(pk=pk).external_id


def _newer_list(version_id, user_id, than):
    stored = cache.get_list(version_id, user_id)
    return stored if stored and stored["at"] > than else None


def test_a_burst_of_events_costs_one_refresh(worker, ease, planted, task_log, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "REFRESH_DEBOUNCE_SECONDS": 1.5}
    version_id = tasks.train_model.delay().get(timeout=120)
    wait_for(_pointer_is(version_id), message="the first full refresh")
    user = planted["users"][4]
    before = cache.get_list(version_id, user.pk)
    for item in planted["items"]["Games"][:5]:  # five requests, well within 1.5 s
        services.record_events([{"item": item.external_id, "event_type": "view"}], user=user)
    assert task_log.count("recommender.tasks.refresh_users", ([user.pk],), "published") == 1
    wait_for(
        lambda: _newer_list(version_id, user.pk, before["at"]),
        message="the refresh after the burst",
    )
    wait_for(
        lambda: task_log.count("recommender.tasks.refresh_users", ([user.pk],)) == 1,
        message="the one refresh to finish",
    )


def test_two_concurrent_trainings_train_once(worker, ease, planted, settings):
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "BACKEND": "tests.workers.backends.GatedEASERecommender",
    }
    backends.GATE.clear()  # the first run to take the lock waits inside fit()
    try:
        first, second = tasks.train_model.delay(), tasks.train_model.delay()
        done = wait_for(
            lambda: [r for r in (first, second) if r.ready()],
            message="one of the two runs to give up",
        )
        assert len(done) == 1 and done[0].get() is None  # it found the lock taken
        # The run holding the lock may give the other its refusal before it has saved its
        # own status; it then waits at the gate in fit(), training, until released.
        wait_for(
            lambda: ModelVersion.objects.filter(status="training").exists(),
            message="the run holding the lock to start training",
        )
        assert list(ModelVersion.objects.values_list("status", flat=True)) == ["training"]
    finally:
        backends.GATE.set()
    running = second if done[0] is first else first
    version_id = running.get(timeout=120)
    assert list(ModelVersion.objects.values_list("pk", "status")) == [(version_id, "ready")]


def test_a_failed_refresh_retries_until_the_cache_is_back(
    worker, ease, planted, task_log, settings
):
    version_id = tasks.train_model.delay().get(timeout=120)
    wait_for(_pointer_is(version_id), message="the first full refresh")
    user = planted["users"][7]
    before = cache.get_list(version_id, user.pk)
    healthy = settings.CACHES
    cache_down(settings)
    tasks.refresh_user.delay(user.pk)
    wait_for(
        lambda: task_log.count("recommender.tasks.refresh_user", (user.pk,), "retried"),
        message="the refresh to fail and be retried",
    )
    settings.CACHES = healthy
    wait_for(
        lambda: _newer_list(version_id, user.pk, before["at"]),
        timeout=60,
        message="the retried refresh to write the list",
    )


def test_a_version_switch_is_atomic_for_readers(worker, ease, planted, task_log):
    users = planted["users"]
    old = tasks.train_model.delay().get(timeout=120)
    wait_for(_pointer_is(old), message="the first full refresh")
    snapshots, stop = [], threading.Event()

    def read():
        # A reader reads the pointer once, then the lists it names (as serving does).
        while not stop.is_set():
            version_id = cache.get_current_version()
            lists = [cache.get_list(version_id, u.pk) for u in users]
            snapshots.append((time.time(), version_id, lists))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        new = tasks.train_model.delay().get(timeout=120)
        assert new != old and ModelVersion.objects.get(pk=new).is_active
        wait_for(_pointer_is(new), message="the switch to the new version")
        wait_for(lambda: snapshots and snapshots[-1][1] == new, message="a reader to see it")
    finally:
        stop.set()
        reader.join()

    assert {s[1] for s in snapshots} == {old, new}
    for _, version_id, lists in snapshots:
        assert all(stored is not None and stored["version"] == version_id for stored in lists)
    switched_at = min(at for at, version_id, _ in snapshots if version_id == new)
    written = [cache.get_list(new, u.pk)["at"] for u in users]
    assert max(written) <= switched_at  # every new list was written before readers switched
    wait_for(
        lambda: task_log.count("recommender.tasks.switch_lists", (new,)) == 1, message="one switch"
    )


def test_requests_still_answer_when_redis_is_down(ease, planted, settings, redis_cache, caplog):
    import logging

    version = services.train()
    services.refresh_all(version.pk)
    user = planted["users"][0]
    assert services.recommend_for_user(user).source == "cached"

    cache_down(settings)
    with caplog.at_level(logging.WARNING, logger="recommender"):
        answer = services.recommend_for_user(user, limit=5)
        anonymous = services.recommend_for_user(None, limit=5)
        stored = services.record_events([{"item": "books-0", "event_type": "view"}], user=user)
    assert answer.source == "computed" and len(answer) == 5
    assert anonymous.source == "popular" and len(anonymous) == 5
    assert len(stored.created) == 1  # the interaction log lives in the database
    assert "recommender cache read failed" in caplog.text
