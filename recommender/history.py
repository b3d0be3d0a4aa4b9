"""From interaction rows to weighted histories, the same way for training and for serving."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .conf import app_settings
from .models import Interaction

__all__ = ["event_weights", "user_history", "HISTORY_LENGTH"]

# The newest events of a user that serving folds in; older ones matter little to the next pick.
HISTORY_LENGTH = 500


def event_weights(event_types: Sequence[str], values: Sequence[Any]) -> np.ndarray:
    """Weight of each event: its type's weight, a rating's scaled by its value.

    A rating at the top of RATING_SCALE weighs the full "rating" weight, one at the midpoint
    nothing, and one below the midpoint counts as negative feedback, like a dislike.
    """
    table = app_settings.EVENT_WEIGHTS
    weights = np.array([float(table.get(t, 0.0)) for t in event_types], dtype=np.float64)
    is_rating = np.array([t == "rating" for t in event_types], dtype=bool)
    if is_rating.any():
        low, high = app_settings.RATING_SCALE
        mid = (low + high) / 2.0
        vals = np.array([v if v is not None else high for v in values], dtype=np.float64)
        scale = (vals - mid) / max(high - mid, 1e-9)
        weights[is_rating] *= scale[is_rating]
    return weights


def user_history(
    user_id: Any, limit: int = HISTORY_LENGTH
) -> tuple[list[int], list[float], set[int]]:
    """A user's recent history, oldest first.

    Returns:
        (item pks, net positive weights, disliked item pks); one entry per item, ordered by
        the item's latest event, oldest first (so the newest item is last).
    """
    rows = list(
        Interaction.objects.filter(user_id=user_id)
        .order_by("-timestamp")
        .values_list("item_id", "event_type", "value")[:limit]
    )
    if not rows:
        return [], [], set()
    item_ids = [r[0] for r in rows]
    weights = event_weights([r[1] for r in rows], [r[2] for r in rows])
    net: dict[int, float] = {}
    for pk, w in zip(item_ids, weights, strict=True):
        net[pk] = net.get(pk, 0.0) + float(w)
    newest_first = list(dict.fromkeys(item_ids))
    positive = [pk for pk in reversed(newest_first) if net[pk] > 0]
    disliked = {pk for pk, w in net.items() if w < 0}
    return positive, [float(np.log2(1.0 + net[pk])) for pk in positive], disliked
