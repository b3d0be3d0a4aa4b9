"""Pins and bans made in the item admin change the very next list (no waiting for a cache)."""

import pytest
from django.urls import reverse

from recommender import cache, services
from recommender.models import ItemRule

pytestmark = pytest.mark.django_db


def item_form(item, rules=()):
    """The item change form as the browser posts it, with the given new inline rules."""
    data = {
        "external_id": item.external_id,
        "title": item.title,
        "description": item.description,
        "url": item.url,
        "is_active": "on",
        "properties": "{}",
        "content_type": "",
        "object_id": "",
        "categories": [c.pk for c in item.categories.all()],
        "rules-TOTAL_FORMS": len(rules),
        "rules-INITIAL_FORMS": 0,
        "rules-MIN_NUM_FORMS": 0,
        "rules-MAX_NUM_FORMS": 1000,
    }
    for n, (action, category) in enumerate(rules):
        data[f"rules-{n}-action"] = action
        data[f"rules-{n}-category"] = category.pk if category else ""
    return data


def test_ban_in_a_category_applies_at_once_to_computed_and_cached_lists(
    client, staff, trained_version, planted
):
    someone = planted["users"][0]  # likes Books
    books = planted["categories"]["Books"]
    before = services.recommend_for_user(someone, limit=5)
    top = before.items[0]
    assert top in services.recommend_for_user(someone, limit=5, categories=["books"]).items
    # Cache the list too, as a refresh would have: the ban must apply to cached lists as well.
    cache.set_lists(trained_version.pk, {someone.pk: [(r.item.pk, r.score) for r in before]})
    cache.set_current_version(trained_version.pk)
    assert services.recommend_for_user(someone, limit=5).source == "cached"

    client.force_login(staff)
    response = client.post(
        reverse("admin:recommender_item_change", args=[top.pk]), item_form(top, [("ban", books)])
    )
    assert response.status_code == 302
    rule = ItemRule.objects.get(item=top)
    assert (rule.action, rule.category, rule.created_by) == ("ban", books, staff)

    in_books = services.recommend_for_user(someone, limit=5, categories=["books"])
    assert in_books and top not in in_books.items
    unfiltered = services.recommend_for_user(someone, limit=5)  # an unfiltered list: every ban
    assert unfiltered.source == "cached" and top not in unfiltered.items


def test_pin_everywhere_puts_the_item_first_at_once(client, staff, trained_version, planted):
    someone = planted["users"][1]  # likes Music
    game = planted["items"]["Games"][5]
    assert services.recommend_for_user(someone, limit=5).items[0] != game
    client.force_login(staff)
    client.post(
        reverse("admin:recommender_item_change", args=[game.pk]), item_form(game, [("pin", None)])
    )
    assert services.recommend_for_user(someone, limit=5).items[0] == game
    # Deleting the rule in the admin lifts it at once as well.
    rule = ItemRule.objects.get(item=game)
    client.post(reverse("admin:recommender_itemrule_delete", args=[rule.pk]), {"post": "yes"})
    assert services.recommend_for_user(someone, limit=5).items[0] != game
