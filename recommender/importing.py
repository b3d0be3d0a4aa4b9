"""Bulk import of a catalogue and interactions from CSV, JSON Lines or a MovieLens folder.

Imports are idempotent: items are upserted by ``external_id``, and every event gets an
``event_id`` (the file's own, or one derived from its content), so running an import twice
stores each row once.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from .catalog import set_categories
from .ingest import record_events
from .models import Item

__all__ = ["ImportReport", "read_rows", "import_items", "import_interactions", "movielens_rows"]

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, row) from a .csv or .jsonl file; a bad line yields a message."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                yield n, {k.strip(): v for k, v in row.items() if k}
        return
    if path.suffix.lower() not in {".jsonl", ".ndjson", ".json"}:
        raise ValueError(f"{path.name}: use a .csv or .jsonl file.")
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, f"line {n}: not valid JSON ({exc.msg})"
                    continue
                yield n, row if isinstance(row, dict) else f"line {n}: not a JSON object"


def _categories(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [c.strip() for c in str(value or "").split("|") if c.strip()]


def _item_fields(row: dict[str, Any]) -> dict[str, Any]:
    props = row.get("properties") or {}
    if isinstance(props, str):
        props = json.loads(props)
    active = row.get("is_active", True)
    if isinstance(active, str):
        active = active.strip().lower() not in {"0", "false", "no", "off"}
    return {
        "title": str(row["title"])[:500],
        "description": str(row.get("description") or ""),
        "url": str(row.get("url") or ""),
        "properties": props,
        "is_active": bool(active),
    }


def import_items(
    rows: Iterable[tuple[int, Any]], *, batch_size: int = 2000, progress: Progress | None = None
) -> ImportReport:
    """Create or update items by external_id, in batches, with their categories."""
    report = ImportReport()
    batch: list[tuple[int, dict]] = []
    for n, row in rows:
        if isinstance(row, str):
            report.rejected.append(row)
        elif not row.get("external_id") or not row.get("title"):
            report.rejected.append(f"line {n}: external_id and title are required")
        else:
            batch.append((n, row))
        if len(batch) >= batch_size:
            _upsert_items(batch, report)
            progress and progress(len(batch))
            batch = []
    if batch:
        _upsert_items(batch, report)
        progress and progress(len(batch))
    return report


@transaction.atomic
def _upsert_items(batch: list[tuple[int, dict]], report: ImportReport) -> None:
    existing = Item.objects.in_bulk(
        [str(r["external_id"]) for _, r in batch], field_name="external_id"
    )
    for n, row in batch:
        try:
            fields = _item_fields(row)
        except (ValueError, TypeError) as exc:
            report.rejected.append(f"line {n}: properties: {exc}")
            continue
        item = existing.get(str(row["external_id"]))
        if item is None:
            item = Item.objects.create(external_id=str(row["external_id"])[:255], **fields)
            report.created += 1
        else:
            for key, value in fields.items():
                setattr(item, key, value)
            item.save()
            report.updated += 1
        if "categories" in row:
            set_categories(item, _categories(row["categories"]))


def _derived_event_id(row: dict[str, Any]) -> str:
    parts = [str(row.get(k, "")) for k in ("user", "item", "event_type", "value", "timestamp")]
    return "import:" + hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def _timestamp(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(float(value), tz=UTC)
    return value or None


def _resolve_users(names: set[str], create: bool) -> dict[str, Any]:
    User = get_user_model()
    field_name = User.USERNAME_FIELD
    found = dict(User.objects.filter(**{f"{field_name}__in": names}).values_list(field_name, "pk"))
    missing = names - set(found)
    if create and missing:
        new = []
        for name in missing:
            user = User(**{field_name: name})
            user.set_unusable_password()
            new.append(user)
        User.objects.bulk_create(new, ignore_conflicts=True)
        found.update(
            User.objects.filter(**{f"{field_name}__in": missing}).values_list(field_name, "pk")
        )
    return found


def import_interactions(
    rows: Iterable[tuple[int, Any]],
    *,
    create_users: bool = False,
    batch_size: int = 5000,
    progress: Progress | None = None,
) -> ImportReport:
    """Store events in atomic batches; bad rows are reported with their line numbers."""
    report = ImportReport()
    batch: list[tuple[int, Any]] = []
    for entry in rows:
        batch.append(entry)
        if len(batch) >= batch_size:
            _store_events(batch, report, create_users)
            progress and progress(len(batch))
            batch = []
    if batch:
        _store_events(batch, report, create_users)
        progress and progress(len(batch))
    return report


def _store_events(batch: list[tuple[int, Any]], report: ImportReport, create: bool) -> None:
    good = [(n, r) for n, r in batch if not isinstance(r, str)]
    report.rejected += [r for _, r in batch if isinstance(r, str)]
    users = _resolve_users({str(r.get("user", "")) for _, r in good}, create)
    events, lines = [], []
    for n, row in good:
        if str(row.get("user", "")) not in users:
            report.rejected.append(
                f"line {n}: user: unknown user {row.get('user')!r} "
                "(pass --create-users to create it)"
            )
            continue
        value = row.get("value")
        events.append(
            {
                "user": users[str(row["user"])],
                "item": str(row.get("item", "")),
                "event_type": row.get("event_type") or "view",
                "value": float(value) if value not in (None, "") else None,
                "timestamp": _timestamp(row.get("timestamp")),
                "event_id": row.get("event_id") or _derived_event_id(row),
            }
        )
        lines.append(n)
    result = record_events(events)
    report.created += len(result.created)
    report.duplicates += len(result.duplicates)
    for rejected in result.rejected:
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in rejected["errors"].items())
        report.rejected.append(f"line {lines[rejected['index']]}: {errors}")


def movielens_rows(path: str | Path, user_prefix: str = "ml-"):
    """(item rows, interaction rows) of a MovieLens folder, ready for the import functions."""
    from .ml.movielens import load_movielens

    data = load_movielens(path)
    User = get_user_model()
    as_email = User.USERNAME_FIELD == "email"
    items = [
        (
            n,
            {
                "external_id": f"movie-{pk}",
                "title": title,
                "categories": genres,
                "description": " ".join(genres),
            },
        )
        for n, (pk, title, genres) in enumerate(
            zip(data.item_ids.tolist(), data.titles, data.genres, strict=True), start=1
        )
    ]

    def user_name(uid: int) -> str:
        return f"{user_prefix}{uid}@movielens.invalid" if as_email else f"{user_prefix}{uid}"

    def events():
        for n, (u, i, r, t) in enumerate(
            zip(
                data.users.tolist(),
                data.items.tolist(),
                data.ratings.tolist(),
                data.timestamps.tolist(),
                strict=True,
            ),
            start=1,
        ):
            yield (
                n,
                {
                    "user": user_name(u),
                    "item": f"movie-{i}",
                    "event_type": "rating",
                    "value": float(r),
                    "timestamp": int(t),
                    "event_id": f"movielens:{u}:{i}:{t}",
                },
            )

    return items, events(), len(data.users)
