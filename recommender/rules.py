"""Merchandising rules (pinned and banned items), cached and invalidated when an editor changes them."""

from __future__ import annotations

from collections.abc import Sequence

from . import cache
from .models import ItemRule

__all__ = ["pinned", "banned", "invalidate"]

EVERYWHERE = "*"
KEY = "rules"


def _table() -> dict[str, dict[str, list[int]]]:
    table = cache.get_value(KEY)
    if table is None:
        table = {}
        rows = ItemRule.objects.filter(item__is_active=True).order_by("created_at").values_list(
            "category__slug", "action", "item_id")
        for slug, action, item_id in rows:
            entry = table.setdefault(slug or EVERYWHERE, {"pin": [], "ban": []})
            entry[action].append(item_id)
        cache.set_value(KEY, table, 600)
    return table


def _collect(action: str, categories: Sequence[str]) -> list[int]:
    table = _table()
    scopes = [EVERYWHERE, *categories]
    return list(dict.fromkeys(pk for s in scopes for pk in table.get(s, {}).get(action, [])))


def pinned(categories: Sequence[str] = ()) -> list[int]:
    """Item pks pinned to the top of lists in these categories (or everywhere), oldest rule first."""
    return _collect("pin", categories)


def banned(categories: Sequence[str] = ()) -> set[int]:
    """Item pks that must not be shown.

    A list filtered to categories honours the bans made everywhere and in those categories;
    an unfiltered list (which spans every category) honours every ban.
    """
    if categories:
        return set(_collect("ban", categories))
    return {pk for entry in _table().values() for pk in entry.get("ban", [])}


def invalidate() -> None:
    cache.delete_value(KEY)
