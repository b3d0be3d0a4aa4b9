"""Training that goes wrong never costs the site its active model: a worse model is not
activated, a crashing backend fails its run, and the run of a worker killed mid-training is
marked failed once its lock expires (with a real SIGKILL where the database and the cache are
shared between processes: PostgreSQL and Redis)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from recommender import cache, services
from recommender.models import ModelVersion
from recommender.training import LOCK_KEY

ROOT = Path(__file__).resolve().parents[2]


def backend(settings, name: str) -> None:
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "BACKEND": f"tests.faults.backends.{name}",
        "BACKEND_PARAMS": {},
    }


def served_version(user) -> int | None:
    client = APIClient()
    client.force_authenticate(user)
    body = client.get("/api/recommendations/").json()
    assert body["source"] in ("cached", "computed")
    return body["model_version"]


@pytest.mark.django_db
def test_a_worse_model_is_stored_but_not_activated(
    trained_version, planted, settings, django_capture_on_commit_callbacks
):
    services.refresh_all(trained_version.pk)
    someone = planted["users"][0]
    before = services.recommend_for_user(someone, limit=10).items
    backend(settings, "ReversedEASERecommender")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        worse = services.train()
    assert worse.status == "ready" and not worse.is_active
    assert worse.note.startswith("Not activated")
    ours = worse.metrics["default"]["ndcg@10"]
    assert ours < worse.metrics["popularity"]["ndcg@10"]
    assert ours < trained_version.metrics["default"]["ndcg@10"]
    assert ModelVersion.objects.active().get() == trained_version
    assert cache.get_current_version() == trained_version.pk
    assert callbacks == [], "no refresh to the worse version was scheduled"
    assert served_version(someone) == trained_version.pk
    assert services.recommend_for_user(someone, limit=10).items == before


@pytest.mark.django_db
def test_a_crashing_backend_fails_its_run_and_keeps_the_active_version(
    trained_version, planted, settings
):
    backend(settings, "CrashingRecommender")
    failed = services.train()
    assert failed.status == "failed" and not failed.is_active
    assert "MemoryError" in failed.error and failed.finished_at is not None
    assert ModelVersion.objects.active().get() == trained_version
    assert cache.get_value(LOCK_KEY) is None, "the lock is released for the next run"
    assert served_version(planted["users"][1]) == trained_version.pk


@pytest.mark.django_db
def test_a_dead_workers_run_is_failed_once_its_lock_expires(trained_version, planted, settings):
    """The state a killed worker leaves: its version "training" and its lock in the cache."""
    orphan = services.enqueue_version()
    ModelVersion.objects.filter(pk=orphan.pk).update(status=ModelVersion.Status.TRAINING)
    assert cache.add_value(LOCK_KEY, orphan.pk, 1)
    assert services.fail_stale_runs() == 0, "a live lock means a live worker"
    with pytest.raises(services.TrainingBusy):
        services.train()
    _wait(lambda: cache.get_value(LOCK_KEY) is None, "the lock to expire")
    assert services.fail_stale_runs() == 1
    orphan.refresh_from_db()
    assert orphan.status == "failed" and "lock expired" in orphan.error
    assert ModelVersion.objects.active().get() == trained_version
    assert served_version(planted["users"][2]) == trained_version.pk
    settings.RECOMMENDER = {**settings.RECOMMENDER, "PROMOTION_TOLERANCE": 1.0}
    assert services.train().status == "ready", "the next run trains normally"


def _wait(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


TRAIN_IN_A_WORKER = """
import django
django.setup()
from django.conf import settings
from django.test.utils import override_settings
from recommender import services
with override_settings(CACHES={**settings.CACHES, "shared": {
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": %(url)r,
        "KEY_PREFIX": %(prefix)r}},
        RECOMMENDER={**settings.RECOMMENDER, "CACHE_ALIAS": "shared",
                     "BACKEND": "tests.faults.backends.StallingEASERecommender",
                     "BACKEND_PARAMS": {}, "TRAIN_LOCK_TIMEOUT": %(lock)d}):
    services.train()
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_training_leaves_the_active_version(
    trained_version, planted, real_redis, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "a second process shares the database only on PostgreSQL "
            "(the SQLite test database is in memory)"
        )
    services.refresh_all(trained_version.pk)
    marker = tmp_path / "fitting"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "RECOMMENDER_STALL_MARKER": str(marker),
        "RECOMMENDER_TEST_MEDIA": str(tmp_path),
    }
    code = TRAIN_IN_A_WORKER % {**real_redis, "lock": 6}
    worker = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: marker.exists() or worker.poll() is not None, "training to start")
        assert worker.poll() is None, worker.stdout.read().decode()[-3000:]
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    orphan = ModelVersion.objects.exclude(pk=trained_version.pk).get()
    assert orphan.status == "training"
    assert served_version(planted["users"][0]) == trained_version.pk, "the site still serves"
    if cache.get_value(LOCK_KEY) is not None:
        stale = services.fail_stale_runs()
        if cache.get_value(LOCK_KEY) is not None:  # the lock was alive for the whole call
            assert stale == 0
    _wait(lambda: cache.get_value(LOCK_KEY) is None, "the dead worker's lock to expire")
    assert services.fail_stale_runs() == 1
    orphan.refresh_from_db()
    assert orphan.status == "failed" and not orphan.is_active
    assert ModelVersion.objects.active().get() == trained_version
    assert cache.get_current_version() == trained_version.pk
