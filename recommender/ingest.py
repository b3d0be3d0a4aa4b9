"""Recording interactions: per-event validation, idempotency by event_id, atomic batches."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import Interaction, Item, validate_event_value
from .querysets import any_of

__all__ = ["IngestResult", "record_events", "record_interaction"]

FIELDS = {"item", "event_type", "value", "timestamp", "event_id", "rec_id", "user"}
_CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of ours a client's clock may be


@dataclass
class IngestResult:
    """What happened to each event of a batch, by its position in the batch."""

    created: list[Interaction] = field(default_factory=list)
    created_indexes: list[int] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": [
                {"index": i, "id": obj.pk, "event_id": obj.event_id}
                for i, obj in zip(self.created_indexes, self.created, strict=True)
            ],
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


def _parse_timestamp(raw: Any, now: datetime) -> datetime:
    if raw in (None, ""):
        return now
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str):
        try:  # the C parser reads every ISO 8601 form clients send; the regex one is slower
            value = datetime.fromisoformat(raw)
        except ValueError:
            value = parse_datetime(raw)
    else:
        value = None
    if value is None:
        raise ValidationError({"timestamp": f"{raw!r} is not an ISO 8601 date-time."})
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    if value > now + _CLOCK_SKEW:
        raise ValidationError({"timestamp": "Timestamp is in the future."})
    return value


def _clean_value(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        if isinstance(raw, bool):
            raise ValidationError({"value": "Value must be a number or null."})
        return None
    if isinstance(raw, int | float):
        return float(raw)
    raise ValidationError({"value": f"Value must be a number or null, not {raw!r}."})


def _clean_event(
    event: Mapping[str, Any],
    items: dict[str, Any],
    users: dict[Any, Any],
    default_user_id: Any,
    now: datetime,
) -> Interaction:
    """Build an unsaved Interaction or raise ValidationError naming the bad field.

    ``items`` maps external ids to item pks and ``users`` the batch's user ids (as sent) to
    user pks; ``now`` is the batch's time (events without a timestamp happened then).
    """
    if not isinstance(event, Mapping):
        raise ValidationError({"non_field_errors": "Each event must be an object."})
    unknown = sorted(set(event) - FIELDS)
    if unknown:
        raise ValidationError({unknown[0]: "Unknown field."})
    item_id = items.get(str(event.get("item", "")))
    if item_id is None:
        raise ValidationError({"item": f"Unknown item {event.get('item')!r}."})
    if "user" in event:
        raw_user = event["user"]
        user_id = users.get(raw_user) if isinstance(raw_user, int | str) else None
    else:
        user_id = default_user_id
    if user_id is None:
        raise ValidationError({"user": f"Unknown user {event.get('user')!r}."})
    event_type = event.get("event_type")
    value = _clean_value(event.get("value"))
    validate_event_value(event_type, value)
    event_id = event.get("event_id") or None
    if event_id is not None and (not isinstance(event_id, str) or len(event_id) > 255):
        raise ValidationError({"event_id": "event_id must be a string of at most 255 characters."})
    rec_id = event.get("rec_id") or ""
    if not isinstance(rec_id, str) or len(rec_id) > 64:
        raise ValidationError({"rec_id": "rec_id must be a string of at most 64 characters."})
    timestamp = _parse_timestamp(event.get("timestamp"), now)
    return _new_row(user_id, item_id, event_type, value, timestamp, event_id, rec_id)


_ROW = ("user_id", "item_id", "event_type", "value", "timestamp", "event_id", "rec_id")


@functools.cache
def _row_template() -> tuple[list[int], list[Any]] | None:
    """Where _ROW's values go among Interaction's concrete fields, and the other fields'
    defaults; None when another field has a callable default (build with keywords then)."""
    positions, defaults = {}, []
    for index, f in enumerate(Interaction._meta.concrete_fields):
        if f.attname in _ROW:
            positions[f.attname] = index
            defaults.append(None)
        elif f.primary_key:
            defaults.append(None)
        elif f.has_default() and callable(f.default):
            return None
        else:
            defaults.append(f.get_default())
    return [positions[name] for name in _ROW], defaults


def _new_row(*values: Any) -> Interaction:
    """An unsaved Interaction of _ROW's values, built positionally: the ORM's fast path,
    a third of the keyword path's cost, which a 1,000-event batch feels."""
    template = _row_template()
    if template is None:
        return Interaction(**dict(zip(_ROW, values, strict=True)))
    positions, args = template[0], list(template[1])
    for position, value in zip(positions, values, strict=True):
        args[position] = value
    return Interaction(*args)


def _lookup(events: list[Any]) -> tuple[dict[str, Any], dict[Any, Any]]:
    """The pks of every item (by external id) and user (by id as sent) the batch names, in
    two queries that build no model instances."""
    dicts = [e for e in events if isinstance(e, Mapping)]
    ext_ids = {str(e["item"]) for e in dicts if e.get("item") is not None}
    items = dict(
        Item.objects.filter(any_of("external_id", ext_ids))
        .order_by()
        .values_list("external_id", "pk")
    )
    user_ids = {e["user"] for e in dicts if "user" in e and isinstance(e["user"], int | str)}
    users = {}
    if user_ids:
        User = get_user_model()
        pks = {pk for pk in (_as_pk(User, v) for v in user_ids) if pk is not None}
        for pk in User.objects.filter(any_of("pk", pks)).order_by().values_list("pk", flat=True):
            users[pk] = pk
            users[str(pk)] = pk
    return items, users


def _as_pk(model, value):
    try:
        return model._meta.pk.to_python(value)
    except ValidationError:
        return None


def _attach_sources(interactions: list[Interaction]) -> None:
    """Link each event with a rec_id to the model version of the list it came from."""
    from . import tracking
    from .models import Impression

    rec_ids = {i.rec_id for i in interactions if i.rec_id}
    if not rec_ids:
        return
    versions = dict(
        Impression.objects.filter(any_of("rec_id", rec_ids)).values_list(
            "rec_id", "model_version_id"
        )
    )
    if len(versions) < len(rec_ids):
        # Lists whose impressions still wait in this process's queue (lists waiting in other
        # processes link their events when they are written).
        versions.update(tracking.waiting_versions(rec_ids - versions.keys()))
    for obj in interactions:
        obj.source_version_id = versions.get(obj.rec_id)


def record_events(events: Iterable[Any], *, user: Any = None) -> IngestResult:
    """Validate and store a batch of events atomically.

    Args:
        events: mappings with ``item`` (external id), ``event_type`` and optionally ``value``,
            ``timestamp``, ``event_id``, ``rec_id`` and ``user`` (a pk; for trusted callers).
        user: the user events without a ``user`` key belong to.

    Returns:
        An IngestResult: created rows, duplicates (an ``event_id`` already stored or repeated
        in the batch) and rejected events with their errors. Valid events are stored together
        in one transaction; rejected ones store nothing.
    """
    events = list(events)
    items, users = _lookup(events)
    result = IngestResult()
    pending: list[tuple[int, Interaction]] = []
    seen_ids: set[tuple[Any, str]] = set()
    default_user_id = user.pk if user is not None else None
    now = timezone.now()
    for index, event in enumerate(events):
        try:
            obj = _clean_event(event, items, users, default_user_id, now)
        except ValidationError as exc:
            result.rejected.append(
                {
                    "index": index,
                    "errors": exc.message_dict
                    if hasattr(exc, "error_dict")
                    else {"non_field_errors": exc.messages},
                }
            )
            continue
        key = (obj.user_id, obj.event_id)
        if obj.event_id and key in seen_ids:
            result.duplicates.append({"index": index, "event_id": obj.event_id})
            continue
        if obj.event_id:
            seen_ids.add(key)
        pending.append((index, obj))
    _store(pending, result)
    return result


def _store(pending: list[tuple[int, Interaction]], result: IngestResult) -> None:
    connection = connections[router.db_for_write(Interaction)]
    if connection.vendor == "postgresql":
        _attach_sources([o for _, o in pending])
        with transaction.atomic(using=connection.alias):
            inserted = _copy_insert(connection, [o for _, o in pending])
        fresh = []
        for index, obj in pending:
            if obj.pk in inserted:
                fresh.append((index, obj))
            else:
                obj.pk = None
                result.duplicates.append({"index": index, "event_id": obj.event_id})
        _created(result, fresh)
        return
    with_ids = [o for _, o in pending if o.event_id]
    existing = (
        set(
            Interaction.objects.filter(  # served by the (user, event_id) unique index
                any_of("user_id", {o.user_id for o in with_ids}),
                any_of("event_id", {o.event_id for o in with_ids}),
            )
            .order_by()
            .values_list("user_id", "event_id")
        )
        if with_ids
        else set()
    )
    fresh = []
    for index, obj in pending:
        if (obj.user_id, obj.event_id) in existing:
            result.duplicates.append({"index": index, "event_id": obj.event_id})
        else:
            fresh.append((index, obj))
    _attach_sources([o for _, o in fresh])
    try:
        with transaction.atomic():
            Interaction.objects.bulk_create([o for _, o in fresh])
    except IntegrityError:
        # A concurrent request stored one of these (user, event_id) pairs between our check
        # and insert:
        # fall back to one savepoint per event so the others still land exactly once.
        _store_one_by_one(fresh, result)
        fresh = [(i, o) for i, o in fresh if o.pk]
    _created(result, fresh)


def _created(result: IngestResult, fresh: list[tuple[int, Interaction]]) -> None:
    """Report the stored events, and refresh their users' lists once the data commits."""
    created = [o for _, o in fresh]
    result.created = created
    result.created_indexes = [i for i, _ in fresh]
    if created:
        from .signals import interactions_recorded

        transaction.on_commit(
            lambda: interactions_recorded.send(
                sender=Interaction, user_ids={o.user_id for o in created}
            )
        )


_STAGE = "recommender_ingest_stage"


def _copy_insert(connection, rows: list[Interaction]) -> set[int]:
    """Insert ``rows`` on PostgreSQL: COPY into a session's staging table, then one
    ``INSERT ... ON CONFLICT DO NOTHING`` into the log; returns the pks of the rows inserted.

    Each row gets its pk from the table's sequence first, so the rows that went in are told
    from the repeats (an event_id the user already sent, or one a concurrent request stored a
    moment before) by the pks the INSERT returns. COPY costs a third of bulk_create's
    INSERT ... UNNEST, which psycopg spends building arrays in Python. Runs inside the caller's
    transaction; the staging table is emptied before each use and at commit.
    """
    if not rows:
        return set()
    opts = Interaction._meta
    fields = opts.concrete_fields
    table, qn = opts.db_table, connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    now = timezone.now()
    stamped = [f.attname for f in fields if getattr(f, "auto_now_add", False)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, opts.pk.column, len(rows)],
        )
        for obj, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            obj.pk = pk
            for name in stamped:
                setattr(obj, name, now)
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {qn(_STAGE)} "
            f"(LIKE {qn(table)}) ON COMMIT DELETE ROWS"
        )
        # Empty even inside one transaction (several batches before a commit).
        cursor.execute(f"TRUNCATE {qn(_STAGE)}")
        names = [f.attname for f in fields]
        with cursor.cursor.copy(f"COPY {qn(_STAGE)} ({columns}) FROM STDIN") as copy:
            for obj in rows:
                copy.write_row([getattr(obj, name) for name in names])
        unique = opts.get_field("event_id")
        cursor.execute(
            f"INSERT INTO {qn(table)} ({columns}) SELECT {columns} FROM {qn(_STAGE)} "
            f"ON CONFLICT ({qn(opts.get_field('user').column)}, {qn(unique.column)}) "
            f"WHERE {qn(unique.column)} IS NOT NULL DO NOTHING RETURNING {qn(opts.pk.column)}"
        )
        inserted = {pk for (pk,) in cursor.fetchall()}
    for obj in rows:
        if obj.pk in inserted:
            obj._state.adding = False
            obj._state.db = connection.alias
    return inserted


def _store_one_by_one(fresh, result: IngestResult) -> None:
    """Insert each event in a savepoint of its own; the ones that clash are duplicates (pk
    None), the others are stored."""
    with transaction.atomic():
        for index, obj in fresh:
            try:
                with transaction.atomic():
                    obj.save(force_insert=True)
            except IntegrityError:
                obj.pk = None
                result.duplicates.append({"index": index, "event_id": obj.event_id})


def record_interaction(
    user: Any,
    item: Item | str,
    event_type: str,
    *,
    value: float | None = None,
    timestamp: datetime | None = None,
    event_id: str | None = None,
    rec_id: str = "",
) -> Interaction:
    """Store one event, raising ValidationError (naming the field) when it is refused.

    A repeated ``event_id`` (of the same user) returns the stored interaction instead of a
    second row.
    """
    event = {
        "item": item.external_id if isinstance(item, Item) else item,
        "event_type": event_type,
        "value": value,
        "timestamp": timestamp,
        "event_id": event_id,
        "rec_id": rec_id,
    }
    result = record_events([event], user=user)
    if result.rejected:
        raise ValidationError(result.rejected[0]["errors"])
    if result.duplicates:
        return Interaction.objects.get(user=user, event_id=event_id)
    return result.created[0]
