"""Schema gaps the fuzzer found that are not fixed yet: each a narrow predicate and a reason.

Remove an entry once its xfail test in test_known_schema_gaps.py passes (it fails loudly).
"""

from __future__ import annotations

__all__ = ["KNOWN", "known_gap"]


def _invalid_page(case, response) -> bool:
    return "page" in case.query and response.status_code == 404


def _non_integer_version_id(case, response) -> bool:
    value = case.path_parameters.get("id")
    return (
        case.operation.path == "/api/models/{id}/"
        and response.status_code == 404
        and not (isinstance(value, int) and not isinstance(value, bool))
    )


def _token_refused(case, response) -> bool:
    return case.operation.path == "/api/token/" and response.status_code == 400


def _item_named_popular(case, response) -> bool:
    return (
        case.operation.path.startswith("/api/items/{external_id}/")
        and case.path_parameters.get("external_id") == "popular"
    )


KNOWN = {
    "invalid-page": (
        _invalid_page,
        "a page number below 1 or past the end answers 404 "
        "{'detail': 'Invalid page.'}, which the list operations do not document",
    ),
    "version-id": (
        _non_integer_version_id,
        "/api/models/<not an integer>/ matches no URL, so "
        "Django answers its HTML 404 page where the schema promises JSON",
    ),
    "token-400": (
        _token_refused,
        "POST /api/token/ answers 400 for wrong credentials; DRF's "
        "obtain_auth_token view documents only 200",
    ),
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
