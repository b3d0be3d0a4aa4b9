"""The preview: a user's history, list, source, version and "because you liked" explanations."""

import numpy as np
import pytest
from django.urls import reverse

from recommender import services
from recommender.history import user_history
from recommender.models import Interaction, ItemRule
from recommender.serving import load_scorer

pytestmark = pytest.mark.django_db
PREVIEW = "admin:recommender_preview"


def test_explanations_name_the_history_items_that_raised_the_score(trained_version, planted):
    scorer = load_scorer(trained_version)
    named = agreeing = 0
    for user in planted["users"][:12]:
        recs = services.recommend_for_user(user, limit=5)
        history = set(Interaction.objects.for_user(user).values_list("item_id", flat=True))
        keys, weights, _ = user_history(user.pk)
        for e in services.explain_recommendations(user, recs):
            assert {i.pk for i in e.because} <= history
            assert len(e.because) <= 2
            if not e.because:
                continue
            named += 1
            assert e.reason.startswith("Because you liked ") and e.because[0].title in e.reason
            # Leaving the first-named item out lowers the item's score (it really contributed).
            full = scorer.score(_row(scorer, keys, weights))[0, scorer.index_of([e.item.pk])[0]]
            rest = [(k, w) for k, w in zip(keys, weights, strict=True) if k != e.because[0].pk]
            without = scorer.score(_row(scorer, *zip(*rest, strict=True)))[
                0, scorer.index_of([e.item.pk])[0]
            ]
            assert without < full
            taste = planted["taste"][user.pk]
            agreeing += e.because[0] in planted["items"][taste]
    assert named >= 50  # 12 users x 5 items, nearly all explained
    assert agreeing / named >= 0.8  # explained by the user's favourite category


def _row(scorer, keys, weights):
    row, _ = scorer._history_row(list(keys), list(weights), None)
    return row


def test_popular_and_pinned_items_say_so(trained_version, planted, user):
    newcomer = services.recommend_for_user(user, limit=3)  # no history: popularity
    assert newcomer.source == "popular"
    assert {e.reason for e in services.explain_recommendations(user, newcomer)} == {
        "Popular right now"
    }
    pinned = planted["items"]["Games"][0]
    ItemRule.objects.create(item=pinned, action="pin")
    someone = planted["users"][0]
    explained = services.explain_recommendations(someone, services.recommend_for_user(someone))
    assert explained[0].item == pinned and explained[0].reason == "Pinned by an editor"


def test_preview_page_shows_history_list_version_and_explanations(
    client, staff, trained_version, planted
):
    someone = planted["users"][3]
    client.force_login(staff)
    response = client.get(reverse(PREVIEW), {"user": someone.email.upper()})
    context = response.context
    assert context["subject"] == someone
    assert context["recommendations"].source == "computed"
    assert context["version"] == trained_version
    assert len(context["explanations"]) == 10
    assert context["history_total"] == 9 and len(context["history"]) == 9
    html = response.content.decode()
    assert "Because you liked" in html and str(trained_version) in html
    assert 'id="preview-newcomer"' in html and context["newcomer"].source == "popular"
    seen = set(Interaction.objects.for_user(someone).values_list("item_id", flat=True))
    assert not seen & {e.item.pk for e in context["explanations"]}


def test_preview_by_id_and_unknown_user(client, staff, trained_version, planted):
    client.force_login(staff)
    someone = planted["users"][1]
    assert client.get(reverse(PREVIEW), {"user": someone.pk}).context["subject"] == someone
    response = client.get(reverse(PREVIEW), {"user": "nobody@example.com"})
    assert response.context["not_found"] and "subject" not in response.context
    assert len(response.context["newcomer"]) == 10


def test_preview_is_not_tracked(client, staff, trained_version, planted):
    from recommender.models import Impression

    client.force_login(staff)
    client.get(reverse(PREVIEW), {"user": planted["users"][0].pk})
    assert not Impression.objects.exists()


def test_similar_items_page(client, staff, trained_version, planted):
    book = planted["items"]["Books"][0]
    client.force_login(staff)
    response = client.get(reverse("admin:recommender_item_similar", args=[book.pk]))
    similar = response.context["similar"]
    assert similar.source == "computed" and len(similar) == 20
    assert book not in similar.items
    top = [r.item for r in similar][:5]
    assert sum(item in planted["items"]["Books"] for item in top) >= 4
    item_page = client.get(reverse("admin:recommender_item_change", args=[book.pk]))
    assert reverse("admin:recommender_item_similar", args=[book.pk]) in item_page.content.decode()
    assert np.isfinite([r.score for r in similar]).all()
