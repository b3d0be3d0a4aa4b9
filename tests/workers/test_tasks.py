"""The tasks and receivers in eager mode (the demo's embedded default): everything runs
synchronously, on commit, and a broken broker never breaks the request that stored events."""

import logging
import os
import subprocess
import sys
import textwrap

import pytest
from celery import Celery

from recommender import cache, services, tasks, training
from recommender.models import Interaction, ModelVersion

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_activation_and_events_refresh_lists_on_commit(trained_version, planted):
    users = planted["users"]
    # Activation committed -> refresh_all (a chord, run eagerly) -> lists, then the pointer.
    assert cache.get_current_version() == trained_version.pk
    assert all(cache.get_list(trained_version.pk, u.pk) for u in users)
    user = users[0]
    answer = services.recommend_for_user(user, limit=3)
    assert answer.source == "cached"

    bought = answer.items[0]
    services.record_events([{"item": bought.external_id, "event_type": "purchase"}], user=user)
    items = dict(cache.get_list(trained_version.pk, user.pk)["items"])
    assert bought.pk not in items
    assert bought not in services.recommend_for_user(user, limit=3).items


@pytest.mark.django_db(transaction=True)
def test_events_inside_a_transaction_refresh_only_after_it_commits(trained_version, planted):
    from django.db import transaction

    user = planted["users"][1]
    before = cache.get_list(trained_version.pk, user.pk)
    item = planted["items"]["Games"][0]
    with transaction.atomic():
        services.record_events([{"item": item.external_id, "event_type": "like"}], user=user)
        assert cache.get_list(trained_version.pk, user.pk) == before
    assert cache.get_list(trained_version.pk, user.pk)["at"] > before["at"]


def test_schedule_refresh_skips_users_whose_refresh_is_already_due(user, other_user):
    assert services.claim_refresh(user.pk)
    assert tasks.schedule_refresh([user.pk, other_user.pk]) == 1  # only other_user's


@pytest.mark.django_db(transaction=True)
def test_events_of_many_users_cost_one_message_per_chunk(trained_version, planted, settings):
    """A staff batch naming many users: one claim round trip, one message per chunk."""
    from celery.signals import task_prerun

    settings.RECOMMENDER = {**settings.RECOMMENDER, "REFRESH_CHUNK_SIZE": 15}
    users = planted["users"]
    before = {u.pk: cache.get_list(trained_version.pk, u.pk)["at"] for u in users}
    sent = []

    def ran(sender=None, args=None, **kwargs):  # eager: the tasks run here, in order
        sent.append((sender.name, args))

    task_prerun.connect(ran, weak=False)
    try:
        item = planted["items"]["Books"][0].external_id
        events = [{"item": item, "event_type": "view", "user": u.pk} for u in users]
        assert len(services.record_events(events).created) == 40
    finally:
        task_prerun.disconnect(ran)
    assert [name for name, _ in sent] == ["recommender.tasks.refresh_users"] * 3  # 15+15+10
    assert sorted(pk for _, (ids,) in sent for pk in ids) == sorted(before)
    assert all(cache.get_list(trained_version.pk, pk)["at"] > at for pk, at in before.items())


def test_train_model_trains_and_returns_the_version(planted, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "BACKEND": "recommender.ml.baselines.EASERecommender",
    }
    version_id = tasks.train_model.delay().get()
    assert ModelVersion.objects.get(pk=version_id).status == "ready"
    queued = services.enqueue_version()
    assert tasks.train_model.delay(queued.pk).get() == queued.pk
    queued.refresh_from_db()
    assert queued.status == "ready"
    assert tasks.train_model.delay(queued.pk).get() == queued.pk  # a redelivery: no retrain
    assert ModelVersion.objects.count() == 2


def test_train_model_while_another_run_holds_the_lock(planted, caplog):
    assert cache.add_value(training.LOCK_KEY, 999, 60)
    with caplog.at_level(logging.INFO, logger="recommender"):
        assert tasks.train_model.delay().get() is None
    assert "another run holds the lock" in caplog.text
    assert not ModelVersion.objects.exists()
    queued = services.enqueue_version()
    with pytest.raises(services.TrainingBusy):  # eager: no waiting; a worker retries later
        tasks.train_model.delay(queued.pk).get()
    queued.refresh_from_db()
    assert queued.status == "queued"


def test_maybe_retrain_trains_when_enough_events_arrived(trained_version, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "RETRAIN_AFTER_INTERACTIONS": 3}
    assert tasks.maybe_retrain.delay().get() is None
    user, item = planted["users"][0], planted["items"]["Music"][0]
    Interaction.objects.bulk_create(
        [Interaction(user=user, item=item, event_type="view") for _ in range(3)]
    )
    version_id = tasks.maybe_retrain.delay().get()
    assert version_id is not None
    # Non-transactional test: the on_commit enqueue never fires, so the run is still queued.
    assert ModelVersion.objects.get(pk=version_id).status == "queued"


@pytest.mark.django_db(transaction=True)
def test_maybe_retrain_enqueues_training_after_commit(trained_version, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "RETRAIN_AFTER_INTERACTIONS": 2}
    user, item = planted["users"][0], planted["items"]["Music"][0]
    Interaction.objects.bulk_create(
        [Interaction(user=user, item=item, event_type="view") for _ in range(2)]
    )
    version_id = tasks.maybe_retrain.delay().get()
    assert ModelVersion.objects.get(pk=version_id).status == "ready"


def test_fail_stale_runs_marks_runs_of_dead_workers(planted):
    dead = ModelVersion.objects.create(algorithm="x", status="training")
    cache.add_value(training.LOCK_KEY, dead.pk, 60)
    assert tasks.fail_stale_runs.delay().get() == 0  # the lock is alive: still training
    cache.delete_value(training.LOCK_KEY)  # the lock of a killed worker expired
    assert tasks.fail_stale_runs.delay().get() == 1
    dead.refresh_from_db()
    assert dead.status == "failed" and "lock expired" in dead.error


def test_retire_task(trained_version, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "KEEP_VERSIONS": 1}
    services.train()
    assert tasks.retire_old_versions.delay().get() == [trained_version.pk]


@pytest.fixture
def broken_broker():
    """The current Celery app sends to a broker nobody listens to (and is not eager)."""
    from celery import _state

    previous = _state.get_current_app()
    app = Celery("broken-broker", set_as_current=False)
    app.conf.update(broker_url="redis://127.0.0.1:6390/0", task_always_eager=False)
    app.set_current()
    yield app
    previous.set_current()
    tasks._paused_until = 0.0


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_never_loses_events_or_breaks_the_request(
    user, items, broken_broker, caplog
):
    with caplog.at_level(logging.ERROR, logger="recommender"):
        result = services.record_events([{"item": "i1", "event_type": "view"}], user=user)
    assert len(result.created) == 1
    assert Interaction.objects.filter(user=user).count() == 1
    assert caplog.text.count("could not enqueue recommender.tasks.refresh_users") == 1
    # The next events do not wait on the dead broker again for a few seconds...
    for n in range(3):
        services.record_events([{"item": f"i{n}", "event_type": "view"}], user=user)
    assert Interaction.objects.filter(user=user).count() == 4
    assert caplog.text.count("could not enqueue") == 1
    # ...and the user's claim was released, so an event after the outage refreshes.
    assert services.claim_refresh(user.pk)


def test_the_worker_code_paths_never_import_tensorflow(tmp_path):
    """Refresh tasks run in the default worker, which must stay free of TensorFlow."""
    script = textwrap.dedent("""
        import sys
        import django
        django.setup()
        from recommender import receivers, refresh, services, tasks  # noqa: F401
        from recommender.ml import scoring  # noqa: F401
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        print("ok")
    """)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
