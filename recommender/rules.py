"""Merchandising rules (pinned and banned items), cached; invalidated when an editor edits them."""

from __future__ import annotations

from collections.abc import Sequence

from . import cache
from .models import ItemRule

__all__ = ["pinned", "banned", "invalidate", "rule_table"]

EVERYWHERE = "*"
KEY = "rules"


def rule_table(cached: dict | None = None) -> dict[str, dict[str, list[int]]]:
    """The rule table: ``cached`` when a caller already read it from the cache, else the
    cached one, else built from the database (and cached)."""
    table = cached if cached is not None else cache.get_value(KEY)
    if table is None:
        table = {}
        rows = (
            ItemRule.objects.filter(item__is_active=True)
            .order_by("created_at")
            .values_list("category__slug", "action", "item_id")
        )
        for slug, action, item_id in rows:
            entry = table.setdefault(slug or EVERYWHERE, {"pin": [], "ban": []})
            entry[action].append(item_id)
        cache.set_value(KEY, table, 600)
    return table


def _collect(action: str, categories: Sequence[str], cached: dict | None) -> list[int]:
    table = rule_table(cached)
    scopes = [EVERYWHERE, *categories]
    return list(dict.fromkeys(pk for s in scopes for pk in table.get(s, {}).get(action, [])))


def pinned(categories: Sequence[str] = (), cached: dict | None = None) -> list[int]:
    """Item pks pinned to the top of lists in these categories or everywhere, oldest first."""
    return _collect("pin", categories, cached)


def banned(categories: Sequence[str] = (), cached: dict | None = None) -> set[int]:
    """Item pks that must not be shown.

    A list filtered to categories honours the bans made everywhere and in those categories;
    an unfiltered list (which spans every category) honours every ban.
    """
    if categories:
        return set(_collect("ban", categories, cached))
    return {pk for entry in rule_table(cached).values() for pk in entry.get("ban", [])}


def invalidate() -> None:
    cache.delete_value(KEY)
