"""Tracking shown lists: impressions written in bulk after responses, clicks linked by rec_id.

Every list a page or an API client shows gets an :class:`~recommender.models.Impression`
under its ``rec_id``. Writing one row per request would cost a busy API a quarter of its
throughput, so impressions travel in two stages:

- Inside a request they wait in a per-request buffer (written at once only if
  IMPRESSION_BUFFER_SIZE of them piled up in that request). When the request finishes, after
  the response went out, they join the process's queue.
- The process's queue is written with one ``bulk_create`` once it holds
  IMPRESSION_BUFFER_SIZE impressions or its oldest waited IMPRESSION_FLUSH_SECONDS (a timer
  thread writes the tail of a quiet spell; the queue is also written when the process exits).
  ``IMPRESSION_FLUSH_SECONDS = 0`` writes every request's impressions when it finishes.

Outside a request (a command, a task) impressions are written at once. A later event carrying
the ``rec_id`` (see :mod:`recommender.ingest`) is linked to the impression's model version;
an event that arrives before its impression was written is linked when the impression is.
A process killed with SIGKILL loses at most the impressions of its last flush interval.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from contextvars import ContextVar
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.signals import request_finished, request_started
from django.db import connections, router, transaction
from django.utils import timezone

from .conf import app_settings
from .models import Impression, Interaction
from .querysets import any_of
from .serving import RecommendationList

__all__ = [
    "record_impression",
    "flush",
    "pending",
    "discard_user",
    "waiting_versions",
    "tracked_url",
]

logger = logging.getLogger("recommender")


class Shown(NamedTuple):
    """The columns of an Impression, in the order a waiting impression holds them.

    A waiting impression is a plain tuple of these (built through ``Shown``, 1.3 us against
    7.3 for an Impression), with ``item_ids`` as the column's JSON text: a plain tuple of
    strings, numbers and datetimes is dropped from the garbage collector's books (a
    NamedTuple, a subclass, never is), so a queue of lists waiting about a second does not
    push the process into more full collections, each a pause of about 100 ms for a Django
    worker.
    """

    rec_id: str
    user_id: Any
    placement: str
    source: str
    model_version_id: int | None
    experiment_id: int | None
    arm: str
    item_ids: str
    created_at: datetime


Row = tuple  # a waiting impression: Shown's fields, as a plain tuple
_REC_ID, _USER_ID, _VERSION_ID = (
    Shown._fields.index(name) for name in ("rec_id", "user_id", "model_version_id")
)


def _to_model(row: Row) -> Impression:
    shown = Shown._make(row)
    return Impression(**{**shown._asdict(), "item_ids": json.loads(shown.item_ids)})


# The impressions of the request being handled; None outside a request.
_buffer: ContextVar[list[Row] | None] = ContextVar("recommender_impressions", default=None)


class _Queue:
    """Impressions of finished requests, waiting to be written together."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[Row] = []
        self.oldest = 0.0
        self.timer: threading.Timer | None = None

    def add(self, rows: list[Row]) -> None:
        with self.lock:
            if not self.rows:
                self.oldest = time.monotonic()
            self.rows.extend(rows)

    def due(self) -> bool:
        seconds = app_settings.IMPRESSION_FLUSH_SECONDS
        return bool(self.rows) and (
            seconds <= 0
            or len(self.rows) >= app_settings.IMPRESSION_BUFFER_SIZE
            or time.monotonic() - self.oldest >= seconds
        )

    def take(self) -> list[Row]:
        with self.lock:
            rows, self.rows = self.rows, []
            return rows

    def arm(self) -> None:
        """Make sure a timer writes the queue when its oldest impression is due."""
        with self.lock:
            if not self.rows or (self.timer is not None and self.timer.is_alive()):
                return
            delay = max(0.0, self.oldest + app_settings.IMPRESSION_FLUSH_SECONDS - time.monotonic())
            self.timer = threading.Timer(delay, _flush_from_timer)
            self.timer.daemon = True
            self.timer.start()


_queue = _Queue()


def record_impression(answer: RecommendationList, *, user: Any = None, placement: str = "") -> str:
    """Track ``answer`` as shown to ``user`` at ``placement``; returns its rec_id.

    Nothing is written for an empty list (nothing was shown, so nothing can be clicked).
    """
    if not answer.recommendations:
        return answer.rec_id
    impression = tuple(
        Shown(
            rec_id=answer.rec_id,
            user_id=user.pk if getattr(user, "is_authenticated", False) else None,
            placement=placement[:100],
            source=answer.source,
            model_version_id=answer.version_id,
            experiment_id=answer.experiment_id,
            arm=answer.arm,
            item_ids=json.dumps([r.item.external_id for r in answer.recommendations]),
            created_at=timezone.now(),
        )
    )
    buffer = _buffer.get()
    if buffer is None:
        _write([impression])
    else:
        buffer.append(impression)
        if len(buffer) >= app_settings.IMPRESSION_BUFFER_SIZE:
            batch = list(buffer)
            buffer.clear()
            _write(batch)
    return answer.rec_id


def pending() -> int:
    """How many impressions of the current request and of this process wait to be written."""
    return len(_buffer.get() or ()) + len(_queue.rows)


def flush() -> int:
    """Write the current request's and this process's waiting impressions now; returns how
    many were written."""
    buffer = _buffer.get()
    batch = list(buffer or ())
    if buffer:
        buffer.clear()
    return _write_linked(batch + _queue.take())


def waiting_versions(rec_ids: set[str]) -> dict[str, int | None]:
    """The model versions of those of ``rec_ids`` whose impressions wait in this request or
    this process, by rec_id (they are not in the database yet)."""
    with _queue.lock:
        waiting = [*(_buffer.get() or ()), *_queue.rows]
    return {i[_REC_ID]: i[_VERSION_ID] for i in waiting if i[_REC_ID] in rec_ids}


def discard_user(user_id: Any) -> int:
    """Drop the impressions of ``user_id`` waiting in this request and this process (the user
    is being forgotten); returns how many were dropped."""
    buffer = _buffer.get() or []
    kept = [i for i in buffer if i[_USER_ID] != user_id]
    dropped = len(buffer) - len(kept)
    buffer[:] = kept
    with _queue.lock:
        kept = [i for i in _queue.rows if i[_USER_ID] != user_id]
        dropped += len(_queue.rows) - len(kept)
        _queue.rows = kept
    return dropped


def _write(impressions: list[Row]) -> int:
    connection = connections[router.db_for_write(Impression)]
    try:
        if len(impressions) == 1 and not connection.in_atomic_block:
            # One list after one response: a lone INSERT in autocommit is one round trip,
            # where bulk_create adds BEGIN and COMMIT.
            _to_model(impressions[0]).save(force_insert=True)
        elif connection.vendor == "postgresql" and not connection.in_atomic_block:
            _copy(connection, impressions)
        else:  # ignore_conflicts: a clash must not break the caller's transaction
            rows = [_to_model(impression) for impression in impressions]
            Impression.objects.bulk_create(rows, ignore_conflicts=True)
    except Exception:  # tracking must never break the page that was already served
        if len(impressions) > 1:  # one bad row (a user forgotten meanwhile) spoils only itself
            return sum(_write([one]) for one in impressions)
        logger.exception("could not record an impression")
        return 0
    return len(impressions)


def _copy(connection, impressions: list[Row]) -> None:
    """Write a queue on PostgreSQL with COPY (a third of bulk_create's cost, which psycopg
    spends building arrays in Python), in a transaction of its own: a row that fails (a
    repeated rec_id, a user deleted meanwhile) fails the batch, and _write retries row by row.

    The transaction commits without waiting for its WAL to reach the disk (``synchronous_commit
    = off``, for this transaction only): a PostgreSQL crash can lose the last fraction of a
    second of impressions, never half of one, the same bargain as the queue itself.
    """
    opts = Impression._meta
    by_attname = {f.attname: f for f in opts.concrete_fields}
    qn = connection.ops.quote_name
    columns = ", ".join(qn(by_attname[name].column) for name in Shown._fields)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        with cursor.cursor.copy(f"COPY {qn(opts.db_table)} ({columns}) FROM STDIN") as copy:
            for impression in impressions:
                copy.write_row(impression)


def _link_waiting_events(impressions: list[Row]) -> None:
    """Events that named these lists before they were written get their model version now."""
    by_version: dict[int, list[str]] = {}
    for impression in impressions:
        if impression[_VERSION_ID]:
            by_version.setdefault(impression[_VERSION_ID], []).append(impression[_REC_ID])
    # from_recommendations() repeats the predicate of the partial index on rec_id: PostgreSQL
    # cannot infer it from a list of over 100 values, and would scan every event instead.
    events = Interaction.objects.from_recommendations().filter(source_version__isnull=True)
    try:
        for version_id, rec_ids in by_version.items():
            events.filter(any_of("rec_id", rec_ids)).update(source_version_id=version_id)
    except Exception:
        logger.exception("could not link events to %d impressions", len(impressions))


def _write_queue() -> int:
    return _write_linked(_queue.take())


def _write_linked(batch: list[Row]) -> int:
    """Write ``batch``; queued ones (FLUSH_SECONDS > 0) may have events that came first."""
    if not batch:
        return 0
    written = _write(batch)
    if app_settings.IMPRESSION_FLUSH_SECONDS > 0:
        _link_waiting_events(batch)
    return written


def _flush_from_timer() -> None:
    try:
        if _queue.rows:
            _write_queue()
    finally:
        connections.close_all()  # this thread's own connections
        with _queue.lock:
            _queue.timer = None
        _queue.arm()  # requests that finished while this one wrote found a timer alive


atexit.register(_write_queue)


def tracked_url(url: str, rec_id: str) -> str:
    """``url`` with ``rec_id`` in its query string, so the landing page knows the list."""
    if not url:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "rec_id"]
    query.append(("rec_id", rec_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _request_started(**kwargs: Any) -> None:
    leftovers = len(_buffer.get() or ())
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
    if buffer:
        _queue.add(buffer)
    if not _queue.due():
        _queue.arm()
        return
    connection = connections[router.db_for_write(Impression)]
    was_closed = connection.connection is None
    _write_queue()
    # Django closed its connection before this receiver ran (CONN_MAX_AGE=0): give back the
    # one opened here, unless a transaction (a test's) holds it.
    if was_closed and not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


request_started.connect(_request_started, dispatch_uid="recommender_tracking_started")
request_finished.connect(_request_finished, dispatch_uid="recommender_tracking_finished")
