"""Template tags: ``{% load recommender %}``, then lists as variables or a ready-made widget.

::

    {% recommended_items user limit=10 as recs %}
    {% similar_items item limit=5 as recs %}
    {% popular_items limit=10 category="books" as recs %}
    {% recommendations_widget user limit=8 title="For you" url_name="item" %}

Each list is a :class:`~recommender.services.RecommendationList` (iterate it for ``rec.item``
and ``rec.score``; ``recs.rec_id`` names it) and is tracked as shown. Link with
``{{ rec.item.url|tracked:recs.rec_id }}`` so a click leads back to the list. Anonymous users
get popular items. The tags read the cache and load a list's items in one query (plus one for
their categories), in score order; they never train or import TensorFlow.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from .. import services
from ..conf import app_settings
from ..models import Item

__all__ = ["register"]

register = template.Library()


def _limit(limit: Any) -> int:
    """A template's limit, clipped into [1, MAX_LIMIT] (pages never fail on a bad limit)."""
    try:
        value = int(limit)
    except (TypeError, ValueError):
        return app_settings.DEFAULT_LIMIT
    return max(1, min(value, app_settings.MAX_LIMIT))


def _names(value: Any) -> list[str]:
    """A comma-separated string or a sequence, as a list of non-empty strings."""
    if not value:
        return []
    parts = value.split(",") if isinstance(value, str) else value
    return [str(p).strip() for p in parts if str(p).strip()]


def _item(obj: Any) -> Item | None:
    """An Item, an external id, or a host object registered in ITEM_MODELS, as an Item."""
    if isinstance(obj, Item) or obj is None:
        return obj
    if isinstance(obj, str):
        return Item.objects.filter(external_id=obj).first()
    return Item.objects.linked_to(obj).first()


def _user(context, user: Any) -> Any:
    if user is not None:
        return user
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


def _shown(answer, user, placement: str, track: bool):
    if track:
        services.record_impression(answer, user=user, placement=placement)
    return answer


@register.simple_tag(takes_context=True)
def recommended_items(
    context,
    user=None,
    limit=None,
    category=None,
    exclude=None,
    placement="recommended_items",
    track=True,
):
    """The user's list (default: the request's user); popular items for anonymous users."""
    user = _user(context, user)
    answer = services.recommend_for_user(
        user, limit=_limit(limit), categories=_names(category), exclude=_names(exclude)
    )
    return _shown(answer, user, placement, track)


@register.simple_tag(takes_context=True)
def similar_items(
    context, item, limit=None, category=None, exclude=None, placement="similar_items", track=True
):
    """Items like ``item`` (an Item, an external id or a registered host object)."""
    found = _item(item)
    if found is None:
        return services.RecommendationList([], "popular")
    answer = services.similar_items(
        found, limit=_limit(limit), categories=_names(category), exclude=_names(exclude)
    )
    return _shown(answer, _user(context, None), placement, track)


@register.simple_tag(takes_context=True)
def popular_items(
    context, limit=None, category=None, exclude=None, placement="popular_items", track=True
):
    """The most popular active items, overall or in ``category`` (slugs, comma-separated)."""
    answer = services.popular_items(
        limit=_limit(limit), categories=_names(category), exclude=_names(exclude)
    )
    return _shown(answer, _user(context, None), placement, track)


@register.filter
def tracked(url: str, rec_id: str) -> str:
    """``url`` carrying ``rec_id``: ``{{ rec.item.url|tracked:recs.rec_id }}``."""
    return services.tracked_url(url or "", rec_id or "") if rec_id else (url or "")


@register.inclusion_tag("recommender/widget.html", takes_context=True)
def recommendations_widget(
    context,
    user=None,
    limit=8,
    category=None,
    exclude=None,
    title="",
    url_name=None,
    placement="widget",
    empty_text="",
):
    """A tracked list rendered by ``recommender/widget.html`` (override it to restyle).

    ``url_name`` names a host URL taking the item's external id; without it links go to the
    item's ``url``. Links carry the list's ``rec_id``; ``recommender/track.js`` reports clicks.
    """
    answer = recommended_items(context, user, limit, category, exclude, placement)
    return {
        "recommendations": answer,
        "entries": [
            _entry(rec, rank, answer.rec_id, url_name) for rank, rec in enumerate(answer, start=1)
        ],
        "rec_id": answer.rec_id,
        "source": answer.source,
        "title": title,
        "placement": placement,
        "empty_text": empty_text,
        "endpoint": _endpoint(),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }


def _entry(rec, rank: int, rec_id: str, url_name: str | None) -> dict[str, Any]:
    url = rec.item.url
    if url_name:
        try:
            url = reverse(url_name, args=[rec.item.external_id])
        except NoReverseMatch:
            url = rec.item.url
    return {
        "item": rec.item,
        "score": rec.score,
        "rank": rank,
        "url": services.tracked_url(url, rec_id),
    }


def _endpoint() -> str:
    try:
        return reverse("recommender_api:interactions")
    except NoReverseMatch:  # the host did not include the API: links still work, untracked
        return ""
