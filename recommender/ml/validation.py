"""Validation split carved from training data only, and a fast NDCG@k on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .topk import top_k

__all__ = ["ValidationSplit", "holdout_latest", "ndcg_at_k"]


@dataclass
class ValidationSplit:
    """Training part of a matrix plus the held-out latest items of some users.

    Attributes:
        matrix: training CSR (the validation users' latest items removed).
        timestamps: times aligned with ``matrix.data``.
        users: rows of the validation users.
        heldout: CSR ``[len(users), n_items]`` of their held-out items.
    """

    matrix: sp.csr_matrix
    timestamps: np.ndarray
    users: np.ndarray
    heldout: sp.csr_matrix


def holdout_latest(
    matrix: sp.csr_matrix,
    timestamps: np.ndarray,
    *,
    share: float = 0.1,
    max_users: int = 2000,
    min_items: int = 5,
    seed: int = 0,
) -> ValidationSplit:
    """Hold out the latest ``share`` (at least 1) of the items of a sample of users.

    Args:
        matrix: users x items CSR with sorted indices.
        timestamps: times aligned with ``matrix.data``.
        share: share of each validation user's items held out, as in the evaluation protocol.
        max_users: at most this many validation users (a random sample of eligible users).
        min_items: users with fewer items are never validation users.
        seed: sampling seed.

    Returns:
        The split; ``users`` is empty when no user is eligible.
    """
    counts = np.diff(matrix.indptr)
    eligible = np.flatnonzero(counts >= min_items)
    rng = np.random.default_rng(seed)
    n_val = min(max_users, int(np.ceil(share * matrix.shape[0])), len(eligible))
    users = np.sort(rng.choice(eligible, size=max(n_val, 0), replace=False))
    held = _latest_entries(matrix, timestamps, users, share)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    train = _subset(matrix, ~held, rows)
    val_rows = np.searchsorted(users, rows[held])
    heldout = sp.csr_matrix(
        (np.ones(held.sum(), np.float32), (val_rows, matrix.indices[held])),
        shape=(len(users), matrix.shape[1]),
    )
    return ValidationSplit(train, np.asarray(timestamps)[~held], users, heldout)


def _latest_entries(
    matrix: sp.csr_matrix, timestamps: np.ndarray, users: np.ndarray, share: float
) -> np.ndarray:
    """Mask over ``matrix.data`` of the latest entries of ``users`` (ties by column)."""
    held = np.zeros(matrix.nnz, bool)
    for user in users:
        start, stop = matrix.indptr[user], matrix.indptr[user + 1]
        n_hold = max(int(np.floor(share * (stop - start) + 0.5)), 1)
        order = np.lexsort((matrix.indices[start:stop], timestamps[start:stop]))
        held[start + order[-n_hold:]] = True
    return held


def _subset(matrix: sp.csr_matrix, keep: np.ndarray, rows: np.ndarray) -> sp.csr_matrix:
    indptr = np.zeros(matrix.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]), out=indptr[1:])
    return sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def ndcg_at_k(
    scores: np.ndarray, seen: sp.csr_matrix, heldout: sp.csr_matrix, k: int = 10
) -> float:
    """Mean NDCG@k (binary relevance) of score rows, seen items excluded.

    Args:
        scores: ``[n, n_items]`` scores.
        seen: CSR ``[n, n_items]`` of items to exclude (the users' training items).
        heldout: CSR ``[n, n_items]`` of relevant items.
        k: cut-off.

    Returns:
        The mean over rows with at least one relevant item (0.0 when there are none).
    """
    exclude = seen.toarray() > 0
    index, _ = top_k(scores, k, exclude)
    relevant = heldout.toarray() > 0
    gains = np.take_along_axis(relevant, np.maximum(index, 0), axis=1) & (index >= 0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    n_rel = relevant.sum(axis=1)
    ideal = np.cumsum(discounts)[np.clip(n_rel, 1, k) - 1]
    ndcg = (gains * discounts[: gains.shape[1]]).sum(axis=1) / ideal
    return float(ndcg[n_rel > 0].mean()) if (n_rel > 0).any() else 0.0
