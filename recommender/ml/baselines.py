"""Reference recommenders without TensorFlow: popularity, item-kNN (cosine) and EASE."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .base import EpochCallback, RecommenderBase, common_arrays
from .data import Dataset
from .itemitem import cosine_item_item, ease_item_item

__all__ = ["PopularityRecommender", "ItemKNNRecommender", "EASERecommender"]


class PopularityRecommender(RecommenderBase):
    """Ranks items by their number of users in the training data; same list for everyone."""

    kind = "popularity"

    def fit(
        self,
        dataset: Dataset,
        content: sp.csr_matrix | None = None,
        *,
        validation: bool = True,
        on_epoch: EpochCallback | None = None,
    ) -> PopularityRecommender:
        """Count each item's users (see :meth:`RecommenderBase.fit`)."""
        self._remember(dataset)
        self.history = [{"epoch": 0, "items": int((self.popularity > 0).sum())}]
        if on_epoch is not None:
            on_epoch(0, dict(self.history[0]))
        return self

    def export(self) -> dict[str, np.ndarray]:
        """Item keys and popularity only."""
        return common_arrays(self)


class _ItemItemRecommender(RecommenderBase):
    """Scores = history @ item_item, for a dense item-item matrix (small catalogues)."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.item_item: np.ndarray | None = None

    def fit(
        self,
        dataset: Dataset,
        content: sp.csr_matrix | None = None,
        *,
        validation: bool = True,
        on_epoch: EpochCallback | None = None,
    ) -> _ItemItemRecommender:
        """Compute the item-item matrix in closed form (see :meth:`RecommenderBase.fit`)."""
        self._remember(dataset)
        self.item_item = self._compute(dataset.matrix)
        self.history = [{"epoch": 0, "items": dataset.n_items}]
        if on_epoch is not None:
            on_epoch(0, dict(self.history[0]))
        return self

    def _compute(self, matrix: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def export(self) -> dict[str, np.ndarray]:
        """Item keys, popularity and the dense item-item matrix."""
        arrays = common_arrays(self)
        arrays["item_item"] = np.asarray(self.item_item, np.float32)
        return arrays


class ItemKNNRecommender(_ItemItemRecommender):
    """Item-based neighbourhood model: cosine similarity over the training matrix."""

    kind = "item_knn"

    def __init__(self, neighbours: int | None = None) -> None:
        super().__init__(neighbours=neighbours)

    def _compute(self, matrix: sp.csr_matrix) -> np.ndarray:
        return cosine_item_item(matrix, self.params["neighbours"])


class EASERecommender(_ItemItemRecommender):
    """EASE (Steck 2019): closed-form ridge item-item model with a zero diagonal."""

    kind = "ease"

    def __init__(self, l2: float = 300.0) -> None:
        super().__init__(l2=l2)

    def _compute(self, matrix: sp.csr_matrix) -> np.ndarray:
        return ease_item_item(matrix, self.params["l2"])
