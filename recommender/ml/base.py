"""The contract every learning backend follows: fit on a dataset, export plain arrays."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .data import Dataset

__all__ = ["RecommenderBase", "EpochCallback", "common_arrays"]

EpochCallback = Callable[[int, dict], None]


class RecommenderBase:
    """Base class of the learning backends (shaped like implicit's ``RecommenderBase``).

    Subclasses set ``kind`` and implement :meth:`fit` and :meth:`export`. After ``fit``,
    ``history`` holds one dict per epoch (loss, validation metric...) and ``params`` the
    settings used, so a caller can store them with the trained version.
    """

    kind = "base"

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = dict(params)
        self.history: list[dict] = []
        self.item_keys: np.ndarray | None = None
        self.popularity: np.ndarray | None = None

    def fit(
        self,
        dataset: Dataset,
        content: sp.csr_matrix | None = None,
        *,
        validation: bool = True,
        on_epoch: EpochCallback | None = None,
    ) -> RecommenderBase:
        """Learn from ``dataset``.

        Args:
            dataset: cleaned interactions from :func:`~recommender.ml.data.prepare`.
            content: optional item features (rows aligned with ``dataset.item_keys``), used
                to give cold items (columns without interactions) usable representations.
            validation: monitor quality on a validation split carved from ``dataset``.
            on_epoch: called as ``on_epoch(epoch, logs)`` after each epoch.

        Returns:
            ``self``.
        """
        raise NotImplementedError

    def export(self) -> dict[str, np.ndarray]:
        """Everything serving needs, as plain arrays for :class:`~recommender.ml.scoring.Scorer`."""
        raise NotImplementedError

    def _remember(self, dataset: Dataset) -> None:
        self.item_keys = np.asarray(dataset.item_keys, np.int64)
        self.popularity = dataset.item_counts().astype(np.float32)

    def _require_fitted(self) -> None:
        if self.item_keys is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")


def common_arrays(model: RecommenderBase) -> dict[str, np.ndarray]:
    """The arrays every export carries: item keys, popularity, kind and parameters."""
    model._require_fitted()
    return {
        "item_keys": np.asarray(model.item_keys, np.int64),
        "popularity": np.asarray(model.popularity, np.float32),
        "model_kind": np.array(model.kind),
        "params_json": np.array(json.dumps(model.params, sort_keys=True, default=str)),
    }
