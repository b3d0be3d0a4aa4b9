"""Give cold items (no interactions) representations borrowed from content-similar warm items."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["content_neighbours", "fill_rows"]


def content_neighbours(
    content: sp.csr_matrix, warm: np.ndarray, k: int = 20, batch: int = 512
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Each cold item's ``k`` most content-similar warm items, as averaging weights.

    This is a k-nearest-neighbour regression from content features to any learned item
    representation: a cold item's representation is the similarity-weighted mean of its
    neighbours' (see :func:`fill_rows`).

    Args:
        content: L2-normalised item features, one row per item.
        warm: boolean mask of items with interactions.
        k: neighbours per cold item.
        batch: cold items processed per block (memory is ``batch x n_warm``).

    Returns:
        ``(cold_index, weights)``: indices of the cold items that have content and at least
        one positively similar warm item, and a CSR ``[len(cold_index), n_items]`` whose rows
        sum to 1 and only touch warm columns.
    """
    content = sp.csr_matrix(content, dtype=np.float32)
    warm_index = np.flatnonzero(warm)
    has_content = np.diff(content.indptr) > 0
    cold_index = np.flatnonzero(~warm & has_content)
    warm_t = content[warm_index].T.tocsc()
    kept, blocks = [], []
    for start in range(0, len(cold_index), batch):
        rows = cold_index[start : start + batch]
        sims = np.asarray((content[rows] @ warm_t).todense())
        block = _top_positive(sims, k, warm_index, len(warm))
        alive = np.diff(block.indptr) > 0
        kept.append(rows[alive])
        blocks.append(block[alive])
    if not blocks:
        return np.empty(0, np.int64), sp.csr_matrix((0, len(warm)), dtype=np.float32)
    return np.concatenate(kept), sp.vstack(blocks).tocsr()


def _top_positive(sims: np.ndarray, k: int, warm_index: np.ndarray, n_items: int) -> sp.csr_matrix:
    k = min(k, sims.shape[1])
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(sims, top, axis=1)
    values = np.where(values > 0, values, 0.0)
    totals = values.sum(axis=1, keepdims=True)
    values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    rows = np.repeat(np.arange(len(sims)), k)
    matrix = sp.csr_matrix(
        (values.ravel().astype(np.float32), (rows, warm_index[top.ravel()])),
        shape=(len(sims), n_items),
    )
    matrix.eliminate_zeros()
    return matrix


def fill_rows(matrix: np.ndarray, cold_index: np.ndarray, weights: sp.csr_matrix) -> np.ndarray:
    """Set ``matrix[cold_index]`` to the neighbour-weighted mean of the warm rows (in place).

    Args:
        matrix: item representations, one row per item (1-D for a per-item scalar).
        cold_index: rows to fill.
        weights: from :func:`content_neighbours`.

    Returns:
        ``matrix``, modified.
    """
    if len(cold_index):
        matrix[cold_index] = np.asarray(weights @ matrix).reshape(matrix[cold_index].shape)
    return matrix
