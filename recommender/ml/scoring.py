"""Serve recommendations from exported arrays with numpy only (never imports TensorFlow)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .recency import apply_recency
from .topk import top_k

__all__ = ["Scorer"]

Ranked = list[tuple[int, float]]


class Scorer:
    """Scores users' histories with an exported model (see ``RecommenderBase.export``).

    The exported arrays may hold any of these components, whose scores are summed after
    standardising each per user (when there are several):

    * an autoencoder: ``encoder_kernel``, ``encoder_bias``, ``decoder_kernel``,
      ``decoder_bias`` (history, L2-normalised -> tanh layer -> item logits);
    * a dense item-item matrix ``item_item`` (scores = history @ item_item);
    * otherwise popularity.

    ``recency_half_life`` (and ``recency_floor``) make recent history items weigh more when
    timestamps are given. New users are folded in: their current history is the input, so
    nobody needs to be in the training data.

    Args:
        arrays: the exported arrays (e.g. from :func:`~recommender.ml.artifacts.load_arrays`).
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.item_keys = np.asarray(arrays["item_keys"], np.int64)
        self.n_items = len(self.item_keys)
        self.popularity = np.asarray(arrays["popularity"], np.float32)
        self.kind = str(arrays.get("model_kind", "unknown"))
        self.params = json.loads(str(arrays["params_json"])) if "params_json" in arrays else {}
        self.half_life = float(arrays.get("recency_half_life", 0.0))
        self.floor = float(arrays.get("recency_floor", 0.0))
        self._sorter = np.argsort(self.item_keys, kind="stable")
        self._item_vectors = _normalised_rows(arrays.get("item_vectors"))
        self._weights = _blend_weights(arrays)

    # -- lookups ---------------------------------------------------------------------------

    def index_of(self, keys: Sequence[int] | np.ndarray) -> np.ndarray:
        """Column of each item key, -1 for keys the model does not know."""
        keys = np.asarray(keys, np.int64).reshape(-1)
        if self.n_items == 0 or len(keys) == 0:
            return np.full(len(keys), -1, np.int64)
        pos = np.minimum(
            np.searchsorted(self.item_keys, keys, sorter=self._sorter), self.n_items - 1
        )
        index = self._sorter[pos]
        return np.where(self.item_keys[index] == keys, index, -1).astype(np.int64)

    def mask_for(self, keys: Sequence[int] | np.ndarray) -> np.ndarray:
        """Boolean mask over ``item_keys``, True for the given keys (unknown keys ignored)."""
        mask = np.zeros(self.n_items, bool)
        index = self.index_of(keys)
        mask[index[index >= 0]] = True
        return mask

    # -- scoring ---------------------------------------------------------------------------

    def score(self, histories: sp.csr_matrix, timestamps: np.ndarray | None = None) -> np.ndarray:
        """Dense scores of every item for each history (one batch; see ``recommend_batch``).

        Args:
            histories: CSR ``[n, n_items]`` of history weights (canonical: sorted indices,
                no duplicates).
            timestamps: times aligned with ``histories.data`` for recency weighting; None
                uses the weights as given.

        Returns:
            float32 ``[n, n_items]``; higher is better. Only the order within a row matters.
        """
        inputs = apply_recency(
            sp.csr_matrix(histories, dtype=np.float32), timestamps, self.half_life, self.floor
        )
        parts = self._components(inputs)
        if not parts:
            return np.tile(self.popularity, (inputs.shape[0], 1))
        if len(parts) == 1:
            return parts[0][1]
        return sum(weight * _standardise(s) for weight, s in parts).astype(np.float32)

    def _components(
        self, inputs: sp.csr_matrix, column: int | None = None
    ) -> list[tuple[float, np.ndarray]]:
        """Raw scores of each component: all items, or one ``column`` (1-D per row)."""
        cols = slice(None) if column is None else column
        parts = []
        if "encoder_kernel" in self.arrays:
            parts.append((self._weights[0], self._autoencoder_logits(inputs, cols)))
        if "item_item" in self.arrays:
            item_item = self.arrays["item_item"][:, cols]
            parts.append((self._weights[1], np.asarray(inputs @ item_item, np.float32)))
        return parts

    def _autoencoder_logits(
        self, inputs: sp.csr_matrix, cols: slice | int = slice(None)
    ) -> np.ndarray:
        a = self.arrays
        norms = np.sqrt(np.asarray(inputs.multiply(inputs).sum(axis=1))).astype(np.float32)
        hidden = np.asarray(inputs @ a["encoder_kernel"]) / np.maximum(norms, 1e-12)
        hidden = np.tanh(hidden + a["encoder_bias"])
        return (hidden @ a["decoder_kernel"][:, cols] + a["decoder_bias"][cols]).astype(np.float32)

    # -- recommendations --------------------------------------------------------------------

    def recommend(
        self,
        history_keys: Sequence[int],
        history_weights: Sequence[float] | None = None,
        *,
        k: int = 10,
        exclude_keys: Sequence[int] = (),
        allowed_mask: np.ndarray | None = None,
        exclude_seen: bool = True,
        history_timestamps: Sequence[float] | None = None,
    ) -> Ranked:
        """Top ``k`` items for one user folded in from their current history.

        Args:
            history_keys: item keys the user interacted with, oldest first when
                ``history_timestamps`` is not given (the order then sets the recency).
            history_weights: confidence per history item (default 1).
            k: how many items.
            exclude_keys: items never to return.
            allowed_mask: boolean mask over ``item_keys``; False items are never returned.
            exclude_seen: leave out the history items.
            history_timestamps: time of each history item.

        Returns:
            ``[(item_key, score), ...]`` best first. An empty (or all unknown) history gives
            the popularity order.
        """
        history, times = self._history_row(history_keys, history_weights, history_timestamps)
        if history.nnz == 0:
            return self.popular(k, allowed_mask=_without(allowed_mask, self, exclude_keys))
        scores = self.score(history, times)[0]
        exclude = self._exclusion(history, exclude_seen, allowed_mask)[0]
        excluded = self.index_of(exclude_keys)
        exclude[excluded[excluded >= 0]] = True
        index, values = top_k(scores, k, exclude)
        return [(int(self.item_keys[i]), float(v)) for i, v in zip(index, values, strict=True)]

    def recommend_batch(
        self,
        histories: sp.csr_matrix,
        k: int,
        exclude_seen: bool = True,
        allowed_mask: np.ndarray | None = None,
        *,
        timestamps: np.ndarray | None = None,
        batch_size: int = 1024,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` for many users at once, ``batch_size`` rows at a time.

        Args:
            histories: CSR ``[n, n_items]`` of history weights (canonical).
            k: how many items per user.
            exclude_seen: leave out each user's history items.
            allowed_mask: boolean mask over ``item_keys``; False items are never returned.
            timestamps: times aligned with ``histories.data`` (recency weighting).
            batch_size: rows scored together (memory is ``batch_size x n_items``).

        Returns:
            ``(keys, scores)``: int64 ``[n, k]`` item keys (-1 where nothing is left) and
            float32 ``[n, k]`` scores, best first.
        """
        histories = sp.csr_matrix(histories, dtype=np.float32)
        n = histories.shape[0]
        k = min(int(k), self.n_items)
        keys = np.full((n, k), -1, np.int64)
        scores = np.full((n, k), -np.inf, np.float32)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            batch = histories[start:stop]
            times = (
                None
                if timestamps is None
                else timestamps[histories.indptr[start] : histories.indptr[stop]]
            )
            index, values = top_k(
                self._batch_scores(batch, times),
                k,
                self._exclusion(batch, exclude_seen, allowed_mask),
            )
            keys[start:stop] = np.where(index >= 0, self.item_keys[np.maximum(index, 0)], -1)
            scores[start:stop] = values
        return keys, scores

    def _batch_scores(self, batch: sp.csr_matrix, times: np.ndarray | None) -> np.ndarray:
        scores = self.score(batch, times)
        empty = np.diff(batch.indptr) == 0
        if empty.any():
            scores[empty] = self.popularity
        return scores

    def _exclusion(
        self, histories: sp.csr_matrix, exclude_seen: bool, allowed_mask: np.ndarray | None
    ) -> np.ndarray:
        exclude = np.zeros(histories.shape, bool)
        if exclude_seen:
            rows = np.repeat(np.arange(histories.shape[0]), np.diff(histories.indptr))
            exclude[rows, histories.indices] = True
        if allowed_mask is not None:
            exclude |= ~np.asarray(allowed_mask, bool)[None, :]
        return exclude

    def popular(self, k: int, allowed_mask: np.ndarray | None = None) -> Ranked:
        """The ``k`` items with most training users (ties by key order), among allowed ones.

        Args:
            k: how many items.
            allowed_mask: boolean mask over ``item_keys``; False items are never returned.

        Returns:
            ``[(item_key, popularity), ...]`` best first.
        """
        exclude = None if allowed_mask is None else ~np.asarray(allowed_mask, bool)
        index, values = top_k(self.popularity, k, exclude)
        return [(int(self.item_keys[i]), float(v)) for i, v in zip(index, values, strict=True)]

    def similar(self, item_key: int, k: int = 10, allowed_mask: np.ndarray | None = None) -> Ranked:
        """Items most similar to ``item_key`` (cold items included).

        The item-item matrix (EASE), when the model has one, symmetrised: on the demo shop its
        top 6 share the item's sub-genre 94% of the time, against 25% for the cosine of the
        autoencoder's item vectors, which serve when there is no matrix (large catalogues).

        Args:
            item_key: the reference item.
            k: how many items.
            allowed_mask: boolean mask over ``item_keys``; False items are never returned.

        Returns:
            ``[(item_key, similarity), ...]`` best first, never the item itself; empty for an
            unknown item. Models with neither use popularity.
        """
        index = int(self.index_of([item_key])[0])
        if index < 0:
            return []
        exclude = (
            np.zeros(self.n_items, bool)
            if allowed_mask is None
            else ~np.asarray(allowed_mask, bool)
        )
        exclude[index] = True
        if "item_item" in self.arrays:
            matrix = self.arrays["item_item"]
            sims = np.asarray(matrix[index] + matrix[:, index], np.float32)
        elif self._item_vectors is not None:
            sims = self._item_vectors @ self._item_vectors[index]
        else:
            return self.popular(k, allowed_mask=~exclude)
        found, values = top_k(sims, k, exclude)
        return [(int(self.item_keys[i]), float(v)) for i, v in zip(found, values, strict=True)]

    def explain(
        self,
        history_keys: Sequence[int],
        history_weights: Sequence[float] | None,
        item_key: int,
        n: int = 2,
        *,
        history_timestamps: Sequence[float] | None = None,
    ) -> Ranked:
        """History items that contributed most to ``item_key``'s score for this history.

        A history item's contribution is how much the item's score drops when that history
        item is left out (leave-one-out, same per-user standardisation as the full history).

        Args:
            history_keys: as in :meth:`recommend`.
            history_weights: as in :meth:`recommend`.
            item_key: the recommended item to explain.
            n: how many history items to return.
            history_timestamps: as in :meth:`recommend`.

        Returns:
            ``[(history_item_key, contribution), ...]`` with positive contributions, largest
            first; empty when the item or the history is unknown.
        """
        history, times = self._history_row(history_keys, history_weights, history_timestamps)
        target = int(self.index_of([item_key])[0])
        if target < 0 or history.nnz == 0:
            return []
        inputs = apply_recency(history, times, self.half_life, self.floor)
        scores = self._explained_scores(inputs, _leave_one_out(inputs), target)
        drops = scores[0] - scores[1:]
        order = np.argsort(-drops, kind="stable")[:n]
        keys = self.item_keys[history.indices]
        return [(int(keys[i]), float(drops[i])) for i in order if drops[i] > 0]

    def _explained_scores(
        self, inputs: sp.csr_matrix, variants: sp.csr_matrix, target: int
    ) -> np.ndarray:
        """Blended score of ``target`` for the full history (row 0) and each variant."""
        full = self._components(inputs)
        parts = self._components(sp.vstack([inputs, variants]).tocsr(), column=target)
        if len(parts) <= 1:
            return parts[0][1] if parts else np.zeros(variants.shape[0] + 1, np.float32)
        total = np.zeros(variants.shape[0] + 1, np.float64)
        for (weight, whole), (_, column) in zip(full, parts, strict=True):
            total += weight * (column - whole.mean()) / (whole.std() + 1e-9)
        return total

    def _history_row(
        self,
        keys: Sequence[int],
        weights: Sequence[float] | None,
        timestamps: Sequence[float] | None,
    ) -> tuple[sp.csr_matrix, np.ndarray]:
        """One canonical CSR row (duplicates summed, latest time kept) and aligned times."""
        keys = np.asarray(list(keys), np.int64)
        w = (
            np.ones(len(keys), np.float32)
            if weights is None
            else np.asarray(list(weights), np.float32)
        )
        t = (
            np.arange(len(keys), dtype=np.float64)
            if timestamps is None
            else np.asarray(list(timestamps), np.float64)
        )
        index = self.index_of(keys)
        known = index >= 0
        cols, w, t = index[known], w[known], t[known]
        unique, inverse = np.unique(cols, return_inverse=True)
        data = np.bincount(inverse, weights=w, minlength=len(unique)).astype(np.float32)
        last = np.full(len(unique), -np.inf)
        np.maximum.at(last, inverse, t)
        row = sp.csr_matrix(
            (data, unique.astype(np.int32), [0, len(unique)]), shape=(1, self.n_items)
        )
        return row, last


def _leave_one_out(row: sp.csr_matrix) -> sp.csr_matrix:
    """CSR with one row per entry of the one-row ``row``: ``row`` without that entry."""
    m = row.nnz
    keep = ~np.eye(m, dtype=bool).ravel()
    data = np.tile(row.data, m)[keep]
    indices = np.tile(row.indices, m)[keep]
    indptr = np.arange(m + 1) * (m - 1)
    return sp.csr_matrix((data, indices, indptr), shape=(m, row.shape[1]))


def _without(allowed_mask: np.ndarray | None, scorer: Scorer, keys: Sequence[int]) -> np.ndarray:
    mask = (
        np.ones(scorer.n_items, bool)
        if allowed_mask is None
        else np.asarray(allowed_mask, bool).copy()
    )
    index = scorer.index_of(keys)
    mask[index[index >= 0]] = False
    return mask


def _standardise(scores: np.ndarray) -> np.ndarray:
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return (scores - mean) / (std + 1e-9)


def _normalised_rows(vectors: Any) -> np.ndarray | None:
    if vectors is None:
        return None
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _blend_weights(arrays: dict[str, np.ndarray]) -> tuple[float, float]:
    if "blend_weights" in arrays:
        first, second = np.asarray(arrays["blend_weights"], np.float64)[:2]
        return float(first), float(second)
    return 1.0, 1.0
