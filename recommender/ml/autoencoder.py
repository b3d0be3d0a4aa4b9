"""The default model: a recency-aware multinomial denoising autoencoder (TensorFlow/Keras)
blended with a closed-form item-item (EASE) component on catalogues small enough for it."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from .base import EpochCallback, RecommenderBase, common_arrays
from .coldstart import content_neighbours, fill_rows
from .data import Dataset
from .itemitem import dense_item_item_fits, ease_item_item
from .recency import apply_recency
from .validation import ValidationSplit, holdout_latest, ndcg_at_k

__all__ = ["AutoencoderRecommender", "DEFAULTS"]

# Chosen on a validation split carved from MovieLens 100K's training part only
# (benchmarks/README.md, "How the defaults were chosen").
DEFAULTS: dict[str, Any] = {
    "hidden": 300,
    "epochs": None,  # None: 30 on small data, fewer as users grow (see _auto_epochs)
    "batch_size": None,  # None: 128, or 512 above 20,000 users
    "dropout": 0.5,
    "learning_rate": 1e-3,
    "input_half_life": 0.1,
    "target_half_life": 0.1,
    "recency_floor": 0.0,
    "item_item_l2": 300.0,
    "item_item_weight": 1.0,
    "item_item_max_items": 5000,
    "content_neighbours": 20,
    "validation_share": 0.1,
    "max_seconds": None,
    # Early stopping: stop once validation NDCG@10 has not improved for this many epochs
    # and keep the best epoch's weights (None or 0 disables it). With fewer validation users
    # than early_stopping_users the metric is too noisy to stop on (it would stop small
    # catalogues half-trained), so all epochs run.
    "patience": 5,
    "early_stopping_users": 200,
    "seed": 0,
}


class AutoencoderRecommender(RecommenderBase):
    """Mult-DAE over recency-weighted histories, plus EASE when the catalogue is small.

    The autoencoder reads a user's history (each item weighted by how recent it is within
    the history, ``input_half_life``), L2-normalises it, drops entries at random
    (``dropout``), encodes it with a ``hidden``-unit tanh layer and predicts a softmax over
    all items, trained to reproduce the history with recent items weighted more
    (``target_half_life``). Because the test of a live site is the user's future, weighting
    recency is what lifts it above EASE on a temporal split.

    When the catalogue has at most ``item_item_max_items`` items, an EASE item-item matrix
    (closed form, ridge ``item_item_l2``) is also computed and its scores are added to the
    autoencoder's after standardising both per user (``item_item_weight``). Its memory grows
    as the square of the catalogue, hence the bound.

    Cold items (no interactions) borrow the encoder rows, decoder columns and EASE rows and
    columns of their ``content_neighbours`` most content-similar warm items.

    Args:
        **params: any key of :data:`DEFAULTS`.
    """

    kind = "autoencoder"

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown parameters: {sorted(unknown)}")
        super().__init__(**{**DEFAULTS, **params})
        self.weights: dict[str, np.ndarray] = {}
        self.item_item: np.ndarray | None = None
        self._keras_model: Any = None

    def fit(
        self,
        dataset: Dataset,
        content: sp.csr_matrix | None = None,
        *,
        validation: bool = True,
        on_epoch: EpochCallback | None = None,
    ) -> AutoencoderRecommender:
        """Train (see :meth:`RecommenderBase.fit`).

        With ``validation``, a sample of users (``validation_share``, at most 2,000) have
        their latest ``validation_share`` of items held out of training, and each epoch's
        logs carry ``val_ndcg@10`` on them; the final entry of ``history`` also has the
        blended model's ``val_ndcg@10_blend``.
        """
        self._remember(dataset)
        p = self.params
        split = self._split(dataset, validation)
        inputs = apply_recency(
            split.matrix, split.timestamps, p["input_half_life"], p["recency_floor"]
        )
        targets = apply_recency(
            split.matrix, split.timestamps, p["target_half_life"], p["recency_floor"]
        )
        self.history = []
        self._keras_model, self.weights = _train(inputs, targets, split, p, self._log(on_epoch))
        self.item_item = self._fit_item_item(split.matrix)
        if content is not None:
            self._fill_cold(content, dataset.warm_items())
            _set_keras_weights(self._keras_model, self.weights)
        if len(split.users):
            self._log_blend(inputs, split)
        return self

    def _split(self, dataset: Dataset, validation: bool) -> ValidationSplit:
        if validation and self.params["validation_share"] > 0:
            return holdout_latest(
                dataset.matrix,
                dataset.timestamps,
                share=self.params["validation_share"],
                seed=self.params["seed"],
            )
        empty = sp.csr_matrix((0, dataset.n_items), dtype=np.float32)
        return ValidationSplit(dataset.matrix, dataset.timestamps, np.empty(0, np.int64), empty)

    def _log(self, on_epoch: EpochCallback | None) -> EpochCallback:
        def log(epoch: int, logs: dict) -> None:
            self.history.append({"epoch": epoch, **logs})
            if on_epoch is not None:
                on_epoch(epoch, dict(logs))

        return log

    def _fit_item_item(self, matrix: sp.csr_matrix) -> np.ndarray | None:
        p = self.params
        if p["item_item_weight"] <= 0 or not dense_item_item_fits(
            matrix.shape[1], p["item_item_max_items"]
        ):
            return None
        return ease_item_item(matrix, p["item_item_l2"])

    def _fill_cold(self, content: sp.csr_matrix, warm: np.ndarray) -> None:
        cold, neighbours = content_neighbours(content, warm, self.params["content_neighbours"])
        if not len(cold):
            return
        w = self.weights
        fill_rows(w["encoder_kernel"], cold, neighbours)
        w["decoder_kernel"] = np.ascontiguousarray(
            fill_rows(w["decoder_kernel"].T.copy(), cold, neighbours).T
        )
        fill_rows(w["decoder_bias"], cold, neighbours)
        if self.item_item is not None:
            fill_rows(self.item_item, cold, neighbours)
            self.item_item = np.ascontiguousarray(
                fill_rows(self.item_item.T.copy(), cold, neighbours).T
            )

    def _log_blend(self, inputs: sp.csr_matrix, split: ValidationSplit) -> None:
        from .scoring import Scorer

        arrays = self.export()
        arrays["recency_half_life"] = np.float32(0.0)  # inputs are already weighted
        scores = Scorer(arrays).score(inputs[split.users])
        self.history[-1]["val_ndcg@10_blend"] = ndcg_at_k(
            scores, inputs[split.users], split.heldout
        )

    def export(self) -> dict[str, np.ndarray]:
        """Item keys, popularity, autoencoder weights, EASE matrix (if any), recency settings,
        blend weights and item vectors (decoder columns) for :meth:`Scorer.similar`."""
        arrays = common_arrays(self)
        arrays.update({name: value.astype(np.float32) for name, value in self.weights.items()})
        arrays["item_vectors"] = np.ascontiguousarray(self.weights["decoder_kernel"].T, np.float32)
        arrays["recency_half_life"] = np.float32(self.params["input_half_life"])
        arrays["recency_floor"] = np.float32(self.params["recency_floor"])
        if self.item_item is not None:
            arrays["item_item"] = self.item_item.astype(np.float32)
            arrays["blend_weights"] = np.array([1.0, self.params["item_item_weight"]], np.float32)
        return arrays

    def save_keras(self, path: str) -> None:
        """Save the autoencoder as a ``.keras`` file (EASE and recency settings are in
        :meth:`export`'s arrays, which are what serving uses)."""
        self._require_fitted()
        self._keras_model.save(path)


def _auto_epochs(n_users: int) -> int:
    """About 30,000 user passes, between 3 and 30 epochs."""
    return int(min(30, max(3, math.ceil(30_000 / max(n_users, 1)))))


def _train(
    inputs: sp.csr_matrix,
    targets: sp.csr_matrix,
    split: ValidationSplit,
    p: dict[str, Any],
    log: EpochCallback,
) -> tuple[Any, dict[str, np.ndarray]]:
    """Build and train the Keras autoencoder; return it and its weights as numpy arrays."""
    import keras

    from .tf_training import SparseTrainer

    keras.utils.set_random_seed(int(p["seed"]))
    n_users, n_items = inputs.shape
    model = _build_keras(n_items, int(p["hidden"]), float(p["dropout"]))
    trainer = SparseTrainer(model, float(p["learning_rate"]), float(p["dropout"]), int(p["seed"]))
    epochs = p["epochs"] or _auto_epochs(n_users)
    batch = p["batch_size"] or (128 if n_users <= 20_000 else 512)
    enough = len(split.users) >= int(p["early_stopping_users"])
    stopper = _EarlyStopping(int(p["patience"] or 0) if enough else 0)
    started = time.perf_counter()
    for epoch in range(int(epochs)):
        loss = trainer.run_epoch(inputs, targets, int(batch))
        logs = {"loss": loss, "seconds": round(time.perf_counter() - started, 2)}
        if len(split.users):
            scores = trainer.predict(inputs[split.users])
            logs["val_ndcg@10"] = ndcg_at_k(scores, inputs[split.users], split.heldout)
        log(epoch, logs)
        if stopper.should_stop(logs.get("val_ndcg@10"), trainer):
            break
        if p["max_seconds"] and time.perf_counter() - started > float(p["max_seconds"]):
            break
    weights = stopper.best_weights or trainer.numpy_weights()
    _set_keras_weights(model, weights)
    return model, weights


class _EarlyStopping:
    """Keeps the weights of the best validation epoch; says stop after ``patience`` epochs
    without improvement. Disabled when ``patience`` is 0 or there is no validation."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best = -math.inf
        self.best_weights: dict[str, np.ndarray] | None = None
        self.waited = 0

    def should_stop(self, metric: float | None, trainer: Any) -> bool:
        if not self.patience or metric is None:
            return False
        if metric > self.best:
            self.best, self.waited = metric, 0
            self.best_weights = trainer.numpy_weights()
            return False
        self.waited += 1
        return self.waited >= self.patience


def _build_keras(n_items: int, hidden: int, dropout: float) -> Any:
    import keras

    return keras.Sequential(
        [
            keras.Input((n_items,), name="history"),
            keras.layers.UnitNormalization(name="normalise"),
            keras.layers.Dropout(dropout, name="dropout"),
            keras.layers.Dense(hidden, activation="tanh", name="encoder"),
            keras.layers.Dense(n_items, name="decoder"),
        ],
        name="recommender_autoencoder",
    )


def _set_keras_weights(model: Any, weights: dict[str, np.ndarray]) -> None:
    model.get_layer("encoder").set_weights([weights["encoder_kernel"], weights["encoder_bias"]])
    model.get_layer("decoder").set_weights([weights["decoder_kernel"], weights["decoder_bias"]])
