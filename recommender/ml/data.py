"""Turn raw interaction events into a cleaned sparse user x item dataset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Dataset", "InsufficientData", "prepare", "SECONDS_PER_DAY"]

SECONDS_PER_DAY = 86400.0


class InsufficientData(ValueError):
    """Too few users, items or interactions remain to learn anything."""


@dataclass
class Dataset:
    """Cleaned interactions, ready for a model.

    Attributes:
        user_keys: unique user keys (any dtype); position = matrix row.
        item_keys: unique int64 item ids; position = matrix column. Columns with no
            interactions are catalogue items added through ``extra_item_keys`` (cold items).
        matrix: float32 CSR, users x items, positive confidence weights, sorted indices.
        negatives: float32 CSR of disliked pairs (weight = strength of the dislike), may be
            empty.
        timestamps: float64 array parallel to ``matrix.data``: the last event time (seconds)
            of each positive pair, used to order a user's history by recency.
    """

    user_keys: np.ndarray
    item_keys: np.ndarray
    matrix: sp.csr_matrix
    negatives: sp.csr_matrix
    timestamps: np.ndarray

    @property
    def n_users(self) -> int:
        """Number of users (rows)."""
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        """Number of items (columns), cold items included."""
        return int(self.matrix.shape[1])

    @property
    def nnz(self) -> int:
        """Number of positive (user, item) pairs."""
        return int(self.matrix.nnz)

    def item_counts(self) -> np.ndarray:
        """Number of users with a positive interaction, per item."""
        return np.bincount(self.matrix.indices, minlength=self.n_items).astype(np.int64)

    def warm_items(self) -> np.ndarray:
        """Boolean mask of the items that have at least one positive interaction."""
        return self.item_counts() > 0


def prepare(
    user_keys: np.ndarray,
    item_keys: np.ndarray,
    weights: np.ndarray,
    timestamps: np.ndarray,
    *,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    half_life_days: float | None = None,
    now: float | None = None,
    extra_item_keys: np.ndarray | None = None,
) -> Dataset:
    """Build a :class:`Dataset` from raw events, one row per event.

    Events of one (user, item) pair are summed (after optional exponential time decay). A
    pair with a positive net weight becomes a positive with confidence ``log2(1 + sum)`` (1.0
    for a single event of weight 1), a pair with a negative net weight becomes a negative,
    a pair that nets to zero is dropped. Users and items with too few positives are dropped
    repeatedly until every remaining one has enough.

    Args:
        user_keys: user of each event (any sortable dtype).
        item_keys: integer item id of each event.
        weights: event weight (event-type weight x value factor); negative means dislike.
        timestamps: event time in seconds (e.g. Unix time).
        min_user_interactions: users with fewer positive items are dropped.
        min_item_interactions: items with fewer positive users are dropped.
        half_life_days: when set, an event ``d`` days older than ``now`` counts
            ``0.5 ** (d / half_life_days)``.
        now: reference time in seconds for the decay; defaults to the latest event.
        extra_item_keys: catalogue item ids to keep as columns even without interactions.

    Returns:
        The cleaned dataset.

    Raises:
        InsufficientData: fewer than 2 users or 2 items with positive interactions remain.
    """
    users = np.asarray(user_keys)
    items = np.asarray(item_keys, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    ts = np.asarray(timestamps, dtype=np.float64)
    if not (len(users) == len(items) == len(w) == len(ts)):
        raise ValueError("user_keys, item_keys, weights and timestamps differ in length")
    if half_life_days is not None and len(ts):
        w = w * _decay(ts, half_life_days, now)
    pairs = _aggregate(users, items, w, ts)
    positive = pairs.weight > 0
    keep_u, keep_i = _filter_counts(
        pairs.user[positive],
        pairs.item[positive],
        len(pairs.user_keys),
        len(pairs.item_keys),
        min_user_interactions,
        min_item_interactions,
    )
    _check_enough(keep_u.sum(), keep_i.sum())
    return _assemble(pairs, positive, keep_u, keep_i, extra_item_keys)


@dataclass
class _Pairs:
    user_keys: np.ndarray
    item_keys: np.ndarray
    user: np.ndarray
    item: np.ndarray
    weight: np.ndarray
    last_ts: np.ndarray


def _decay(ts: np.ndarray, half_life_days: float, now: float | None) -> np.ndarray:
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    reference = ts.max() if now is None else float(now)
    age_days = np.maximum(reference - ts, 0.0) / SECONDS_PER_DAY
    return np.power(0.5, age_days / half_life_days)


def _aggregate(users: np.ndarray, items: np.ndarray, w: np.ndarray, ts: np.ndarray) -> _Pairs:
    """Sum the weights and take the latest time of each (user, item) pair."""
    user_uniques, user_codes = np.unique(users, return_inverse=True)
    item_uniques, item_codes = np.unique(items, return_inverse=True)
    pair_codes = user_codes.astype(np.int64) * len(item_uniques) + item_codes
    pair_uniques, pair_index = np.unique(pair_codes, return_inverse=True)
    weight = np.bincount(pair_index, weights=w, minlength=len(pair_uniques))
    last_ts = np.full(len(pair_uniques), -np.inf)
    np.maximum.at(last_ts, pair_index, ts)
    return _Pairs(
        user_keys=user_uniques,
        item_keys=item_uniques,
        user=pair_uniques // len(item_uniques),
        item=pair_uniques % len(item_uniques),
        weight=weight,
        last_ts=last_ts,
    )


def _filter_counts(
    user: np.ndarray, item: np.ndarray, n_users: int, n_items: int, min_user: int, min_item: int
) -> tuple[np.ndarray, np.ndarray]:
    """Masks of users and items kept after iteratively applying the minimum counts."""
    keep_u = np.zeros(n_users, bool)
    keep_i = np.zeros(n_items, bool)
    keep_u[user] = True
    keep_i[item] = True
    while True:
        alive = keep_u[user] & keep_i[item]
        user_counts = np.bincount(user[alive], minlength=n_users)
        item_counts = np.bincount(item[alive], minlength=n_items)
        new_u = keep_u & (user_counts >= max(min_user, 1))
        new_i = keep_i & (item_counts >= max(min_item, 1))
        if (new_u == keep_u).all() and (new_i == keep_i).all():
            return keep_u, keep_i
        keep_u, keep_i = new_u, new_i


def _check_enough(n_users: int, n_items: int) -> None:
    if n_users < 2:
        raise InsufficientData(f"need at least 2 users with interactions, got {n_users}")
    if n_items < 2:
        raise InsufficientData(f"need at least 2 items with interactions, got {n_items}")


def _assemble(
    pairs: _Pairs,
    positive: np.ndarray,
    keep_u: np.ndarray,
    keep_i: np.ndarray,
    extra_item_keys: np.ndarray | None,
) -> Dataset:
    user_keys = pairs.user_keys[keep_u]
    item_keys = pairs.item_keys[keep_i]
    if extra_item_keys is not None and len(extra_item_keys):
        extra = np.asarray(extra_item_keys, dtype=np.int64)
        item_keys = np.union1d(item_keys, extra)
    user_pos = np.full(len(pairs.user_keys), -1, np.int64)
    user_pos[keep_u] = np.arange(keep_u.sum())
    item_pos = np.searchsorted(item_keys, pairs.item_keys)
    item_pos[~keep_i] = -1
    row, col = user_pos[pairs.user], item_pos[pairs.item]
    alive = (row >= 0) & (col >= 0)
    shape = (len(user_keys), len(item_keys))
    pos = alive & positive
    matrix, timestamps = _csr_with_parallel(
        row[pos], col[pos], np.log2(1.0 + pairs.weight[pos]), pairs.last_ts[pos], shape
    )
    neg = alive & (pairs.weight < 0)
    negatives = sp.csr_matrix(
        (-pairs.weight[neg].astype(np.float32), (row[neg], col[neg])), shape=shape
    )
    return Dataset(user_keys, item_keys, matrix, negatives, timestamps)


def _csr_with_parallel(
    row: np.ndarray, col: np.ndarray, data: np.ndarray, extra: np.ndarray, shape: tuple[int, int]
) -> tuple[sp.csr_matrix, np.ndarray]:
    """CSR with sorted indices plus an array aligned with its ``data`` (pairs are unique)."""
    order = np.lexsort((col, row))
    indptr = np.zeros(shape[0] + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=shape[0]), out=indptr[1:])
    matrix = sp.csr_matrix(
        (data[order].astype(np.float32), col[order].astype(np.int32), indptr), shape=shape
    )
    return matrix, extra[order].astype(np.float64)
