"""The items of served lists, kept by each web process between requests.

A cached list names item pks; turning them into Items with their categories was most of the
cost of serving it (two queries per list). Each process keeps the Items it loaded, with their
categories, and drops them when the catalogue changes:

- Any write to items or categories the app can see (``save``, ``delete``, category changes,
  and ItemQuerySet's ``update``, ``delete``, ``bulk_create`` and ``bulk_update``) empties the
  writing process's store at once and, when its transaction commits, moves a generation token
  in the shared cache. Readers get the token in the cache round trip that already fetches the
  list's pointer, and empty their store when it moved.
- The whole store is also emptied every ``ITEM_CACHE_SECONDS``, which bounds how long a write
  the app cannot see (raw SQL, another application on the same tables) stays unseen.
- When the shared cache is down the token is unknown, and items are read from the database.

Items handed out are shared by the requests of a process: treat them as read-only (a ``save``
on one is seen, and empties every store, like any other write). ``ITEM_CACHE_SIZE = 0`` turns
the store off.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import router, transaction
from django.db.models import Prefetch

from . import cache
from .conf import app_settings
from .models import Category, Item

__all__ = ["Entry", "KEY", "generation", "settle", "entries", "changed", "clear"]

KEY = "catalog"
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class Entry:
    """An item with its categories loaded (by name), and their slugs (for category filters)."""

    item: Item
    categories: tuple[Category, ...]
    slugs: frozenset[str]


class _Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[int, Entry | None] = OrderedDict()
        self.generation: str | None = None
        self.since = time.monotonic()

    def reset(self, generation: str | None) -> None:
        self.entries.clear()
        self.generation = generation
        self.since = time.monotonic()


_store = _Store()
# Per thread (each has its own connections): changes seen, and the last one a bump covered.
_changes = threading.local()


def settle(token: str | None) -> str | None:
    """The generation token, given what a batched cache read found under ``KEY``.

    An absent token (never set, evicted, or the cache was flushed) is replaced by a new one,
    so every process empties its store; None when the cache is down.
    """
    if token is not None:
        return token
    fresh = uuid.uuid4().hex
    if cache.add_value(KEY, fresh, None):
        return fresh
    return cache.get_value(KEY)  # another process set it first (None: the cache is down)


def generation() -> str | None:
    """The catalogue's generation token, read from the shared cache (one round trip)."""
    return settle(cache.get_value(KEY))


def entries(
    pks: Iterable[int],
    token: str | None = _ABSENT,  # type: ignore[assignment]
    *,
    prefetch: Iterable[int] = (),
) -> dict[int, Entry]:
    """The entries of the existing items among ``pks`` (active or not), by pk.

    ``token`` is the generation a caller already read (see :func:`settle`); without one it is
    read here. Items the store lacks are loaded with one query, plus one for their categories;
    when that happens, the items of ``prefetch`` it lacks come in the same queries (the rest
    of a list, which later requests will want), so a store fills in a few requests per list
    instead of one miss per rarely shown item.
    """
    pks = list(pks)
    if token is _ABSENT:
        token = generation()
    size = app_settings.ITEM_CACHE_SIZE
    if token is None or size <= 0:
        if token is None:  # writes during the outage could not move the token: start afresh
            clear()
        return _fetch(pks)
    found: dict[int, Entry] = {}
    missing: list[int] = []
    with _store.lock:
        if (
            _store.generation != token
            or time.monotonic() - _store.since > app_settings.ITEM_CACHE_SECONDS
        ):
            _store.reset(token)
        stored = _store.entries
        for pk in pks:
            entry = stored.get(pk, _ABSENT)
            if entry is _ABSENT:
                missing.append(pk)
            elif entry is not None:
                stored.move_to_end(pk)
                found[pk] = entry
    if not missing:
        return found
    with _store.lock:
        wanted = set(missing)
        missing += [pk for pk in prefetch if pk not in _store.entries and pk not in wanted]
    fetched = _fetch(missing)
    found.update((pk, fetched[pk]) for pk in wanted if pk in fetched)
    with _store.lock:
        if _store.generation == token:  # not emptied meanwhile
            stored = _store.entries
            # The prefetched tail first: when the store trims, the items just served stay.
            for pk in sorted(missing, key=wanted.__contains__):
                stored[pk] = fetched.get(pk)  # None remembers that there is no such item
            while len(stored) > size:
                stored.popitem(last=False)
    return found


def _fetch(pks: list[int]) -> dict[int, Entry]:
    if not pks:
        return {}
    qs = Item.objects.filter(pk__in=pks).prefetch_related(
        Prefetch("categories", queryset=Category.objects.order_by("name"))
    )
    found = {}
    for item in qs:
        categories = tuple(item.categories.all())
        found[item.pk] = Entry(item, categories, frozenset(c.slug for c in categories))
    return found


def clear() -> None:
    """Empty this process's store."""
    with _store.lock:
        _store.reset(_store.generation)


def changed(using: str | None = None) -> None:
    """Items or categories changed: empty this process's store now, and every process's
    once the transaction commits (at once in autocommit).

    Many changes in one transaction move the token once.
    """
    clear()
    count = getattr(_changes, "count", 0) + 1
    _changes.count = count
    alias = using or router.db_for_write(Item)
    transaction.on_commit(lambda: _bump(count), using=alias)


def _bump(count: int) -> None:
    # Callbacks run in the order their changes came; the first one covers them all.
    if count <= getattr(_changes, "bumped", 0):
        return
    _changes.bumped = getattr(_changes, "count", count)
    clear()
    cache.set_value(KEY, uuid.uuid4().hex, None)
