"""Tracking shown lists: impressions written in bulk after the response, clicks linked by rec_id.

Every list a page or an API client shows gets an :class:`~recommender.models.Impression`
under its ``rec_id``. Inside a request the impressions wait in a per-request buffer and are
written with one ``bulk_create`` when the request finishes (after the response went out), or
sooner when IMPRESSION_BUFFER_SIZE of them piled up; outside a request (a command, a task)
they are written at once. A later event carrying the ``rec_id`` (see :mod:`recommender.ingest`)
is linked to the impression's model version, so clicks and purchases are traced to the list
and the model that led to them.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.signals import request_finished, request_started
from django.db import connections, router

from .conf import app_settings
from .models import Impression
from .serving import RecommendationList

__all__ = ["record_impression", "flush", "pending", "tracked_url"]

logger = logging.getLogger("recommender")

# The impressions of the request being handled; None outside a request.
_buffer: ContextVar[list[Impression] | None] = ContextVar("recommender_impressions", default=None)


def record_impression(answer: RecommendationList, *, user: Any = None, placement: str = "") -> str:
    """Track ``answer`` as shown to ``user`` at ``placement``; returns its rec_id.

    Nothing is written for an empty list (nothing was shown, so nothing can be clicked).
    """
    if not answer.recommendations:
        return answer.rec_id
    impression = Impression(
        rec_id=answer.rec_id,
        user=user if getattr(user, "is_authenticated", False) else None,
        placement=placement[:100],
        source=answer.source,
        model_version_id=answer.version_id,
        experiment_id=answer.experiment_id,
        arm=answer.arm,
        item_ids=[r.item.external_id for r in answer.recommendations],
    )
    buffer = _buffer.get()
    if buffer is None:
        _write([impression])
    else:
        buffer.append(impression)
        if len(buffer) >= app_settings.IMPRESSION_BUFFER_SIZE:
            flush()
    return answer.rec_id


def pending() -> int:
    """How many impressions of the current request wait to be written."""
    return len(_buffer.get() or ())


def flush() -> int:
    """Write the current request's buffered impressions now; returns how many were written."""
    buffer = _buffer.get()
    if not buffer:
        return 0
    batch = list(buffer)
    buffer.clear()
    return _write(batch)


def _write(impressions: list[Impression]) -> int:
    connection = connections[router.db_for_write(Impression)]
    try:
        if len(impressions) == 1 and not connection.in_atomic_block:
            # The common case (one list per request, after the response): a lone INSERT in
            # autocommit is one round trip, where bulk_create adds BEGIN and COMMIT.
            impressions[0].save(force_insert=True)
        else:  # ignore_conflicts: a clash must not break the caller's transaction
            Impression.objects.bulk_create(impressions, ignore_conflicts=True)
    except Exception:  # tracking must never break the page that was already served
        logger.exception("could not record %d impressions", len(impressions))
        return 0
    return len(impressions)


def tracked_url(url: str, rec_id: str) -> str:
    """``url`` with ``rec_id`` in its query string, so the landing page knows the list."""
    if not url:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "rec_id"]
    query.append(("rec_id", rec_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _request_started(**kwargs: Any) -> None:
    leftovers = pending()
    if leftovers:
        # The server never closed the previous response (PEP 3333 says it must), so
        # request_finished never came: writing its impressions now could land them in another
        # transaction, for users that no longer exist. Drop them instead.
        logger.warning(
            "dropping %d impressions of a request whose end was never signalled", leftovers
        )
    _buffer.set([])


def _request_finished(**kwargs: Any) -> None:
    buffer = _buffer.get()
    _buffer.set(None)
    if not buffer:
        return
    connection = connections[router.db_for_write(Impression)]
    was_closed = connection.connection is None
    _write(buffer)
    # Django closed its connection before this receiver ran (CONN_MAX_AGE=0): give back the
    # one opened here, unless a transaction (a test's) holds it.
    if was_closed and not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


request_started.connect(_request_started, dispatch_uid="recommender_tracking_started")
request_finished.connect(_request_finished, dispatch_uid="recommender_tracking_finished")
