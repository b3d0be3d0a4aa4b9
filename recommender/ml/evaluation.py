"""The project's offline evaluation protocol (temporal split, full ranking, metrics at K)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .data import prepare
from .memory import PeakMemory

__all__ = [
    "Interactions",
    "temporal_split",
    "evaluate",
    "evaluate_method",
    "metrics_for_rankings",
]

RecommendFn = Callable[[Any, int], Sequence[int]]


@dataclass
class Interactions:
    """Parallel arrays of (user, item, timestamp) events."""

    user: np.ndarray
    item: np.ndarray
    ts: np.ndarray

    def __len__(self) -> int:
        return len(self.user)


def temporal_split(
    user: np.ndarray,
    item: np.ndarray,
    ts: np.ndarray,
    holdout: float = 0.2,
    min_interactions: int = 5,
) -> tuple[Interactions, dict[Any, np.ndarray]]:
    """Hold out each user's latest interactions (EVALUATION.md, rules 1 to 3).

    Duplicate (user, item) pairs count once (their first occurrence). Each user's pairs are
    sorted by time, ties by item id, and the last ``round(holdout * n)`` (at least 1) go to
    the test set. Users with fewer than ``min_interactions`` pairs keep all of them in
    training and are not evaluated.

    Args:
        user: user key of each event.
        item: integer item id of each event.
        ts: timestamp of each event.
        holdout: share of each user's interactions held out.
        min_interactions: minimum number of distinct items for a user to be evaluated.

    Returns:
        ``(train, test)``: training events and, per evaluated user, the held-out item ids.
    """
    u, i, t = _dedup_first(np.asarray(user), np.asarray(item, np.int64), np.asarray(ts))
    order = np.lexsort((i, t, u))
    u, i, t = u[order], i[order], t[order]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    counts = np.diff(np.r_[starts, len(u)])
    n_test = np.maximum(np.floor(holdout * counts + 0.5).astype(np.int64), 1)
    n_test[counts < min_interactions] = 0
    position = np.arange(len(u)) - np.repeat(starts, counts)
    is_test = position >= np.repeat(counts - n_test, counts)
    test = _group(u[is_test], i[is_test])
    return Interactions(u[~is_test], i[~is_test], t[~is_test]), test


def _dedup_first(u: np.ndarray, i: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.lexsort((t, i, u))
    u, i, t = u[order], i[order], t[order]
    first = np.r_[True, (u[1:] != u[:-1]) | (i[1:] != i[:-1])]
    return u[first], i[first], t[first]


def _group(u: np.ndarray, i: np.ndarray) -> dict[Any, np.ndarray]:
    if len(u) == 0:
        return {}
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    ends = np.r_[starts[1:], len(u)]
    return {u[s].item(): i[s:e] for s, e in zip(starts, ends, strict=True)}


def metrics_for_rankings(
    rankings: Sequence[Sequence[int]],
    relevant: Sequence[np.ndarray],
    n_candidates: int,
    k: int = 10,
) -> dict[str, float]:
    """NDCG, recall, hit rate and coverage at ``k`` (EVALUATION.md, rule 5).

    Args:
        rankings: per user, recommended item ids best first (only the first ``k`` count).
        relevant: per user, the held-out item ids.
        n_candidates: number of candidate items (items in training), for coverage.
        k: cut-off.

    Returns:
        ``{"ndcg@k", "recall@k", "hit@k", "coverage@k", "users"}``.
    """
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ndcg, recall, hit, shown = [], [], [], set()
    for ranked, rel in zip(rankings, relevant, strict=True):
        top = list(ranked)[:k]
        shown.update(top)
        gains = np.isin(np.asarray(top, dtype=np.int64), rel).astype(float)
        n_ideal = min(k, len(rel))
        ndcg.append(float(gains @ discounts[: len(top)]) / discounts[:n_ideal].sum())
        recall.append(gains.sum() / n_ideal)
        hit.append(float(gains.any()))
    return {
        f"ndcg@{k}": float(np.mean(ndcg)) if ndcg else 0.0,
        f"recall@{k}": float(np.mean(recall)) if recall else 0.0,
        f"hit@{k}": float(np.mean(hit)) if hit else 0.0,
        f"coverage@{k}": len(shown) / max(n_candidates, 1),
        "users": len(ndcg),
    }


def evaluate(
    model: Any, train: Interactions, test: dict[Any, np.ndarray], k: int = 10
) -> dict[str, float]:
    """Score a model on a split made by :func:`temporal_split` (EVALUATION.md, rules 4, 5).

    Args:
        model: a :class:`~recommender.ml.scoring.Scorer` (its histories are built from
            ``train``, candidates restricted to training items, seen items excluded), or a
            callable ``fn(user_key, k) -> item ids best first``; items the user has in
            training and items absent from training are removed from its output before
            the cut at ``k``.
        train: training events.
        test: held-out item ids per user.
        k: cut-off.

    Returns:
        The metrics of :func:`metrics_for_rankings`.
    """
    users = list(test)
    candidates = np.unique(train.item)
    if hasattr(model, "recommend_batch"):
        rankings = _rank_with_scorer(model, train, users, candidates, k)
    else:
        rankings = _rank_with_function(model, train, users, candidates, k)
    relevant = [np.asarray(test[u], np.int64) for u in users]
    return metrics_for_rankings(rankings, relevant, len(candidates), k)


def _rank_with_scorer(
    scorer: Any, train: Interactions, users: list, candidates: np.ndarray, k: int
) -> list[np.ndarray]:
    user_index = {u: n for n, u in enumerate(users)}
    rows = np.fromiter((user_index.get(u, -1) for u in train.user.tolist()), np.int64, len(train))
    histories, times = history_matrix(rows, train.item, train.ts, len(users), scorer.item_keys)
    keys, _ = scorer.recommend_batch(
        histories, k, exclude_seen=True, allowed_mask=scorer.mask_for(candidates), timestamps=times
    )
    return [row[row >= 0] for row in keys]


def history_matrix(
    rows: np.ndarray, items: np.ndarray, ts: np.ndarray, n_rows: int, item_keys: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Canonical CSR of histories (weight 1 per pair) over sorted ``item_keys`` and the times
    aligned with its data (for recency weighting). Rows < 0 and unknown items are skipped.

    Args:
        rows: output row of each event (-1 to skip).
        items: item key of each event (pairs must be unique).
        ts: time of each event.
        n_rows: number of rows.
        item_keys: the scorer's item keys, sorted.

    Returns:
        ``(histories, timestamps)``.
    """
    position = np.minimum(np.searchsorted(item_keys, items), len(item_keys) - 1)
    known = (rows >= 0) & (item_keys[position] == items)
    rows, cols, ts = rows[known], position[known], np.asarray(ts, np.float64)[known]
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    data = np.ones(len(order), np.float32)
    matrix = sp.csr_matrix(
        (data, cols[order].astype(np.int32), indptr), shape=(n_rows, len(item_keys))
    )
    return matrix, ts[order]


def _rank_with_function(
    fn: RecommendFn, train: Interactions, users: list, candidates: np.ndarray, k: int
) -> list[list[int]]:
    seen = _group(*_sorted_pairs(train))
    rankings = []
    for u in users:
        own = seen.get(u, np.empty(0, np.int64))
        ranked = [int(x) for x in fn(u, k + len(own))]
        ok = np.isin(ranked, candidates) & ~np.isin(ranked, own)
        rankings.append([x for x, good in zip(ranked, ok, strict=True) if good][:k])
    return rankings


def _sorted_pairs(train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(train.user, kind="stable")
    return train.user[order], train.item[order]


def evaluate_method(
    factory: Callable[[], Any],
    user: np.ndarray,
    item: np.ndarray,
    ts: np.ndarray,
    *,
    k: int = 10,
    holdout: float = 0.2,
    min_interactions: int = 5,
    content_for: Callable[[np.ndarray], Any] | None = None,
    fit_kwargs: dict | None = None,
) -> dict[str, float]:
    """Split, fit a fresh model on the training part, and score it.

    Args:
        factory: returns an unfitted :class:`~recommender.ml.base.RecommenderBase`.
        user, item, ts: all events.
        k, holdout, min_interactions: protocol parameters (see :func:`temporal_split`).
        content_for: optional ``fn(item_keys) -> csr`` giving content rows for the model.
        fit_kwargs: extra keyword arguments for ``fit``.

    Returns:
        The metrics plus ``fit_seconds`` and ``peak_memory_mb``: the peak resident set
        size of the process during the fit (see :class:`~recommender.ml.memory.PeakMemory`).
    """
    from .scoring import Scorer

    train, test = temporal_split(user, item, ts, holdout, min_interactions)
    dataset = prepare(train.user, train.item, np.ones(len(train)), train.ts)
    content = content_for(dataset.item_keys) if content_for is not None else None
    model = factory()
    with PeakMemory() as memory:
        started = time.perf_counter()
        model.fit(dataset, content, **(fit_kwargs or {}))
        fit_seconds = time.perf_counter() - started
    result = evaluate(Scorer(model.export()), train, test, k)
    result.update(fit_seconds=fit_seconds, peak_memory_mb=memory.peak_mb)
    return result
