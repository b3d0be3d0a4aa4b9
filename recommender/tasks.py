"""Celery tasks: thin wrappers over the services that take ids and are safe to run twice.

The host owns the Celery app, its routes and the beat schedule (see docs/workers.md). Route
``train_model`` to its own queue, served by a ``-P solo`` worker: TensorFlow is then imported
only in a process that never forks afterwards, and web processes and the default worker never
import it at all. ``refresh_all`` fans out with a chord, so the host needs a result backend.
"""

from __future__ import annotations

import logging
import math
import reprlib
import time
from collections.abc import Iterable
from typing import Any

from celery import chord, shared_task
from django.db import InterfaceError, OperationalError, transaction

from . import services
from .conf import app_settings

__all__ = [
    "train_model",
    "refresh_user",
    "refresh_users",
    "refresh_all",
    "score_chunk",
    "switch_lists",
    "retire_old_versions",
    "fail_stale_runs",
    "maybe_retrain",
    "schedule_refresh",
    "enqueue",
]

logger = logging.getLogger("recommender")

# Errors a later attempt may not meet: the database or the cache was briefly unreachable.
TRANSIENT = (OperationalError, InterfaceError, services.CacheUnavailable)
RETRYING = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}
BUSY_RETRY_SECONDS = 60


# After a failed send, this process skips sending for a few seconds: a request that stored
# events must not wait on a dead broker once per event.
BROKER_PAUSE_SECONDS = 5.0
_paused_until = 0.0


def enqueue(task, *args: Any, countdown: float | None = None) -> bool:
    """Enqueue without ever failing the caller (the interaction log is already committed).

    Returns:
        False when the task could not be sent (logged); True otherwise.
    """
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    try:
        task.apply_async(args, countdown=countdown)
    except Exception:  # broker down, or an eager task that failed: log, do not break the page
        logger.exception("could not enqueue %s%s", task.name, reprlib.repr(args))
        if not task.app.conf.task_always_eager:
            _paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        return False
    return True


# -- training -------------------------------------------------------------------------------


# acks_late off: a training run whose worker was killed (OOM) is not redelivered to die again;
# fail_stale_runs marks it failed once its lock expires, and the next schedule trains anew.
@shared_task(bind=True, acks_late=False)
def train_model(self, version_id: int | None = None) -> int | None:
    """Train a queued version (or a new one) under the one-run-at-a-time lock.

    Without ``version_id`` a call that finds another run in progress does nothing (that run
    is the training asked for); a queued version waits for the lock and then trains once.
    """
    try:
        return services.train(version_id).pk
    except services.TrainingBusy:
        if version_id is None:
            logger.info("training not started: another run holds the lock")
            return None
        if self.request.is_eager:
            raise
        max_retries = math.ceil(app_settings.TRAIN_LOCK_TIMEOUT / BUSY_RETRY_SECONDS) + 1
        raise self.retry(countdown=BUSY_RETRY_SECONDS, max_retries=max_retries) from None
    except (OperationalError, InterfaceError) as exc:
        countdown = 2 ** min(self.request.retries, 8)
        raise self.retry(exc=exc, countdown=countdown, max_retries=5) from exc


@shared_task(acks_late=False)
def maybe_retrain() -> int | None:
    """Queue and enqueue a training run when enough new interactions arrived (beat task)."""
    version = services.retrain_due()
    if version is None:
        return None
    transaction.on_commit(lambda: enqueue(train_model, version.pk))
    return version.pk


@shared_task
def fail_stale_runs() -> int:
    """Mark failed the runs of workers that died (beat task)."""
    return services.fail_stale_runs()


@shared_task(**RETRYING)
def forget_late_impressions(user_id: Any) -> int:
    """A forgotten user's impressions that web processes wrote after the forget."""
    return services.forget_late_impressions(user_id)


@shared_task
def retire_old_versions() -> list[int]:
    """Retire ready versions beyond KEEP_VERSIONS per slot (beat task)."""
    return services.retire_old_versions()


# -- per-user lists -------------------------------------------------------------------------


@shared_task(**RETRYING)
def refresh_user(user_id: Any) -> int:
    """Rescore one user from their current history and rewrite their cached lists."""
    return services.refresh_user(user_id)


@shared_task(**RETRYING)
def refresh_users(user_ids: list[Any]) -> int:
    """Rescore many users in one batched pass and rewrite their cached lists."""
    return services.refresh_users(user_ids)


def schedule_refresh(user_ids: Iterable[Any]) -> int:
    """Refresh the lists of users who just acted, REFRESH_DEBOUNCE_SECONDS from now, unless a
    refresh is already due for them (a burst of events costs one refresh). One claim round
    trip for all of them, one ``refresh_users`` message per REFRESH_CHUNK_SIZE users.

    Returns:
        How many users were scheduled.
    """
    claimed = services.claim_refreshes(user_ids)
    delay = float(app_settings.REFRESH_DEBOUNCE_SECONDS) or None
    size = max(1, int(app_settings.REFRESH_CHUNK_SIZE))
    sent = 0
    for start in range(0, len(claimed), size):
        chunk = claimed[start : start + size]
        if enqueue(refresh_users, chunk, countdown=delay):
            sent += len(chunk)
        else:
            services.release_refreshes(chunk)  # let the next event try again
    return sent


@shared_task(**RETRYING)
def refresh_all(version_id: int) -> int:
    """Rewrite every user's list for a version in chunks across workers, then switch readers.

    Returns:
        The number of chunks fanned out.
    """
    chunks = services.plan_refresh(version_id)
    if chunks is None:
        return 0
    if not chunks:
        services.switch_lists(version_id)
        return 0
    chord([score_chunk.si(version_id, ids) for ids in chunks])(switch_lists.si(version_id))
    return len(chunks)


@shared_task(**RETRYING)
def score_chunk(version_id: int, user_ids: list[Any]) -> int:
    """Score one chunk of users in one batched pass and write their lists."""
    return services.score_chunk(version_id, user_ids)


@shared_task(**RETRYING)
def switch_lists(version_id: int) -> bool:
    """Point readers at a version's lists (the chord callback of ``refresh_all``)."""
    return services.switch_lists(version_id)
