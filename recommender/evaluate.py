"""The offline protocol (shared EVALUATION.md) applied to the site's own interaction log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["evaluate_on_holdout", "holdout_mask"]


def holdout_mask(users: np.ndarray, items: np.ndarray, timestamps: np.ndarray, weights: np.ndarray):
    """Split raw events by the protocol: each user's latest 20% of positive items held out.

    Returns:
        (train_mask over events, test dict user -> held-out item ids, split) where every event
        of a held-out (user, item) pair is left out of training.
    """
    from .ml.evaluation import temporal_split

    positive = weights > 0
    train, test = temporal_split(users[positive], items[positive], timestamps[positive])
    held = {(u, int(i)) for u, its in test.items() for i in its}
    keys = zip(users.tolist(), items.tolist(), strict=True)
    mask = np.fromiter(((u, i) not in held for u, i in keys), dtype=bool, count=len(users))
    return mask, test, train


def evaluate_on_holdout(
    data: Any, factory: Callable[[], Any], prepare: Callable, content_for: Callable
) -> dict[str, dict[str, float]]:
    """Fit a fresh model and the popularity baseline on the training part and score both.

    Returns:
        {"default": metrics, "popularity": metrics}, or {} when no user has 5+ items.
    """
    import time

    from .ml.baselines import PopularityRecommender
    from .ml.data import InsufficientData
    from .ml.evaluation import evaluate
    from .ml.scoring import Scorer

    mask, test, train = holdout_mask(data.users, data.items, data.timestamps, data.weights)
    if not test:
        return {}
    try:
        dataset = prepare(data, mask)
    except InsufficientData:
        return {}
    results = {}
    for name, model in (("default", factory()), ("popularity", PopularityRecommender())):
        started = time.perf_counter()
        model.fit(dataset, content_for(dataset.item_keys), validation=True)
        seconds = time.perf_counter() - started
        metrics = evaluate(Scorer(model.export()), train, test, k=10)
        results[name] = {**{k: float(v) for k, v in metrics.items()}, "fit_seconds": seconds}
    return results
