"""Recency weights for a user's history: recent items count more when predicting the next ones."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["recency_weights", "apply_recency"]


def recency_weights(
    indptr: np.ndarray, timestamps: np.ndarray, half_life: float, floor: float = 0.0
) -> np.ndarray:
    """Weight of each history entry from how much of the user's history came after it.

    For an entry of a history of ``n`` items, ``later`` is the number of the user's items
    with a strictly later timestamp (ties share a weight, so the result does not depend on
    how equal times are ordered). The weight is
    ``floor + (1 - floor) * 0.5 ** (later / n / half_life)``: the latest items weigh 1, the
    items half a history ago weigh ``0.5 ** (0.5 / half_life)``.

    Args:
        indptr: CSR row pointer of the histories.
        timestamps: time of each entry, aligned with the CSR data.
        half_life: share of the history after which the weight halves; ``<= 0`` disables.
        floor: minimum weight, so old items never vanish entirely.

    Returns:
        float32 weights aligned with the CSR data.
    """
    n = len(timestamps)
    if half_life <= 0 or n == 0:
        return np.ones(n, np.float32)
    counts = np.diff(indptr)
    rows = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((-np.asarray(timestamps, np.float64), rows))
    sorted_rows, sorted_ts = rows[order], np.asarray(timestamps)[order]
    new_group = np.r_[
        True, (sorted_rows[1:] != sorted_rows[:-1]) | (sorted_ts[1:] != sorted_ts[:-1])
    ]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    later = np.empty(n, np.float64)
    later[order] = group_start - np.repeat(indptr[:-1], counts)
    share = later / np.repeat(np.maximum(counts, 1), counts)
    return (floor + (1.0 - floor) * np.power(0.5, share / half_life)).astype(np.float32)


def apply_recency(
    histories: sp.csr_matrix, timestamps: np.ndarray | None, half_life: float, floor: float = 0.0
) -> sp.csr_matrix:
    """Multiply each history entry by its :func:`recency_weights` (copy).

    Args:
        histories: CSR users x items, canonical (sorted indices, no duplicates).
        timestamps: times aligned with ``histories.data``; None leaves the weights as given.
        half_life: see :func:`recency_weights`.
        floor: see :func:`recency_weights`.

    Returns:
        A new float32 CSR with the same pattern.
    """
    weighted = histories.astype(np.float32, copy=True)
    if timestamps is not None and half_life > 0:
        weighted.data *= recency_weights(histories.indptr, timestamps, half_life, floor)
    return weighted
