"""Closed-form item-item models (EASE, cosine) for catalogues small enough for a dense matrix."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["ease_item_item", "cosine_item_item", "dense_item_item_fits"]


def dense_item_item_fits(n_items: int, max_items: int) -> bool:
    """Whether an ``n_items`` x ``n_items`` matrix is allowed (memory grows as n_items ** 2)."""
    return 0 < n_items <= max_items


def ease_item_item(matrix: sp.csr_matrix, l2: float = 300.0) -> np.ndarray:
    """EASE weights: ``B = argmin ||X - XB||^2 + l2 ||B||^2`` with ``diag(B) = 0``.

    Args:
        matrix: users x items training matrix.
        l2: ridge penalty.

    Returns:
        float32 ``[n_items, n_items]``; scores are ``history @ B``. Items without
        interactions get zero rows and columns.
    """
    gram = (matrix.T @ matrix).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += l2
    precision = np.linalg.inv(gram)
    del gram
    weights = precision / (-np.diag(precision))
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32)


def cosine_item_item(matrix: sp.csr_matrix, neighbours: int | None = None) -> np.ndarray:
    """Cosine similarity between item columns, zero diagonal.

    Args:
        matrix: users x items training matrix.
        neighbours: keep only each item's strongest ``neighbours`` similarities (None: all).

    Returns:
        float32 ``[n_items, n_items]``; scores are ``history @ S``.
    """
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normalised = sp.csr_matrix(matrix @ sp.diags(scale))
    sims = (normalised.T @ normalised).toarray().astype(np.float32)
    np.fill_diagonal(sims, 0.0)
    if neighbours is not None and neighbours < sims.shape[1]:
        cut = np.argpartition(-sims, neighbours, axis=1)[:, neighbours:]
        np.put_along_axis(sims, cut, 0.0, axis=1)
    return sims
