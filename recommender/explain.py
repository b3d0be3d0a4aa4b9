"""Why a list holds an item: "because you liked X and Y", from the model's own arithmetic.

The history items named are those whose removal lowers the item's score the most
(:meth:`recommender.ml.scoring.Scorer.explain`, leave-one-out over the user's current history,
folded in exactly as serving folds it in). Numpy only, like serving.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import rules
from .history import user_history
from .models import Item, ModelVersion
from .serving import POPULAR, RecommendationList, load_scorer

__all__ = ["Explanation", "explain_recommendations", "because"]

logger = logging.getLogger("recommender")


@dataclass
class Explanation:
    """One recommended item, the history items behind it (most first) and a sentence."""

    item: Item
    score: float
    because: list[Item] = field(default_factory=list)
    reason: str = ""


def _sentence(because: Sequence[Item]) -> str:
    titles = [item.title for item in because]
    if not titles:
        return ""
    if len(titles) == 1:
        return f"Because you liked {titles[0]}"
    return f"Because you liked {', '.join(titles[:-1])} and {titles[-1]}"


def _scorer_of(version_id: int | None):
    version = (
        ModelVersion.objects.ready().filter(pk=version_id, artifact__gt="").first()
        if version_id
        else None
    )
    if version is None:
        return None
    try:
        return load_scorer(version)
    except Exception:  # an unreadable artifact only costs the explanations
        logger.exception("cannot load the artifact of model version %s", version_id)
        return None


def because(scorer: Any, user_id: Any, item_pks: Sequence[int], n: int = 2) -> dict[int, list[int]]:
    """For each item pk, the pks of the user's history items that contributed most to it.

    Args:
        scorer: the numpy Scorer of the version that produced the list.
        user_id: the user whose current history is folded in.
        item_pks: the recommended items.
        n: at most this many history items per recommended item.

    Returns:
        {item pk: [history item pk, ...]}, largest contribution first; empty lists when the
        history is empty or the model does not know the item.
    """
    keys, weights, _ = user_history(user_id)
    if not keys:
        return {pk: [] for pk in item_pks}
    return {pk: [key for key, _ in scorer.explain(keys, weights, pk, n)] for pk in item_pks}


def explain_recommendations(
    user: Any, recommendations: RecommendationList, n: int = 2
) -> list[Explanation]:
    """An explanation for every item of a user's list, in the list's order.

    Items of a popularity list, and editor-pinned items, say so instead of naming history
    items. Costs one history query, one item query, and one leave-one-out pass per item.
    """
    pinned = set(rules.pinned())
    scorer = None if recommendations.source == POPULAR else _scorer_of(recommendations.version_id)
    pks = [rec.item.pk for rec in recommendations]
    reasons = because(scorer, user.pk, pks, n) if scorer is not None else {pk: [] for pk in pks}
    items = Item.objects.in_bulk({pk for found in reasons.values() for pk in found})
    out = []
    for rec in recommendations:
        history = [items[pk] for pk in reasons.get(rec.item.pk, []) if pk in items]
        out.append(
            Explanation(
                rec.item, rec.score, history, _reason(rec.item.pk, history, pinned, recommendations)
            )
        )
    return out


def _reason(pk: int, history: list[Item], pinned: set[int], recs: RecommendationList) -> str:
    if pk in pinned:
        return "Pinned by an editor"
    if recs.source == POPULAR:
        return "Popular right now"
    return _sentence(history) or "Fits your history as a whole"
