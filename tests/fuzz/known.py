"""Schema gaps the fuzzer found that are not fixed yet: each a narrow predicate and a reason.

Remove an entry once its xfail test in test_known_schema_gaps.py passes (it fails loudly).
"""

from __future__ import annotations

__all__ = ["KNOWN", "known_gap"]


def _item_named_popular(case, response) -> bool:
    return (
        case.operation.path.startswith("/api/items/{external_id}/")
        and case.path_parameters.get("external_id") == "popular"
    )


KNOWN = {
    "item-popular": (
        _item_named_popular,
        "/api/items/popular/ is the popular-items action, so "
        "an item whose external_id is 'popular' cannot be read, changed or "
        "deleted through /api/items/{external_id}/",
    ),
}


def known_gap(case, response) -> str | None:
    """The name of the known gap this answer falls under, or None."""
    for name, (matches, _reason) in KNOWN.items():
        if matches(case, response):
            return name
    return None
