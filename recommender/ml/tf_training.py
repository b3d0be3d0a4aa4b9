"""TensorFlow training loop of the autoencoder over sparse batches (imported by workers only)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf

__all__ = ["SparseTrainer"]


class SparseTrainer:
    """Trains the ``encoder``/``decoder`` layers of a Keras model on CSR batches.

    Inputs never become dense: each batch is L2-normalised and dropped out in numpy, then
    multiplied sparsely into the encoder. The multinomial loss
    ``sum(t) * logsumexp(logits) - sum(t * logits)`` needs the logits only at the target's
    non-zeros, so targets stay sparse too. Memory is ``batch x n_items`` for the logits.

    Args:
        model: Keras model with ``encoder`` and ``decoder`` Dense layers.
        learning_rate: Adam learning rate.
        dropout: share of input entries dropped per batch.
        seed: seed of batching and dropout.
    """

    def __init__(self, model: Any, learning_rate: float, dropout: float, seed: int) -> None:
        self.encoder = model.get_layer("encoder")
        self.decoder = model.get_layer("decoder")
        self.variables = [
            self.encoder.kernel,
            self.encoder.bias,
            self.decoder.kernel,
            self.decoder.bias,
        ]
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.variables)
        self.dropout = dropout
        self.rng = np.random.default_rng(seed)
        self.n_items = int(self.decoder.kernel.shape[1])
        self._step = tf.function(self._train_step, reduce_retracing=True)

    def run_epoch(self, inputs: sp.csr_matrix, targets: sp.csr_matrix, batch_size: int) -> float:
        """One pass over the users in random order; returns the mean loss per user."""
        order = self.rng.permutation(inputs.shape[0])
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            rows = np.sort(order[start : start + batch_size])
            x = _normalise(inputs[rows])
            x = self._drop(x)
            loss = self._step(
                *_sparse_args(x), *_sparse_args(targets[rows]), tf.constant(len(rows), tf.int64)
            )
            total += float(loss) * len(rows)
            seen += len(rows)
        return total / max(seen, 1)

    def _drop(self, x: sp.csr_matrix) -> sp.csr_matrix:
        if self.dropout <= 0:
            return x
        keep = self.rng.random(x.nnz) >= self.dropout
        x = x.copy()
        x.data = np.where(keep, x.data / (1.0 - self.dropout), 0.0).astype(np.float32)
        x.eliminate_zeros()
        return x

    def _train_step(self, x_idx, x_val, t_idx, t_val, n_rows):  # noqa: ANN001, ANN202
        x = tf.SparseTensor(x_idx, x_val, tf.stack([n_rows, self.n_items]))
        with tf.GradientTape() as tape:
            hidden = tf.tanh(
                tf.sparse.sparse_dense_matmul(x, self.encoder.kernel) + self.encoder.bias
            )
            logits = tf.matmul(hidden, self.decoder.kernel) + self.decoder.bias
            log_norm = tf.reduce_logsumexp(logits, axis=1)
            picked = tf.gather_nd(logits, t_idx)
            target_mass = tf.math.unsorted_segment_sum(
                t_val, t_idx[:, 0], tf.cast(n_rows, tf.int32)
            )
            loss = (
                tf.reduce_sum(target_mass * log_norm) - tf.reduce_sum(t_val * picked)
            ) / tf.cast(n_rows, tf.float32)
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables, strict=True))
        return loss

    def predict(self, inputs: sp.csr_matrix, batch_size: int = 1024) -> np.ndarray:
        """Logits for CSR histories (no dropout), computed in numpy from the current weights."""
        w = self.numpy_weights()
        out = []
        for start in range(0, inputs.shape[0], batch_size):
            x = _normalise(inputs[start : start + batch_size])
            hidden = np.tanh(np.asarray(x @ w["encoder_kernel"]) + w["encoder_bias"])
            out.append(hidden @ w["decoder_kernel"] + w["decoder_bias"])
        return np.vstack(out) if out else np.empty((0, self.n_items), np.float32)

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """Current weights as float32 numpy arrays, named as in the exported artifact."""
        names = ["encoder_kernel", "encoder_bias", "decoder_kernel", "decoder_bias"]
        return {
            n: np.array(keras.ops.convert_to_numpy(v), np.float32)
            for n, v in zip(names, self.variables, strict=True)
        }


def _normalise(x: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty), as Keras' UnitNormalization."""
    x = sp.csr_matrix(x, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x.data /= np.repeat(np.maximum(norms, 1e-12), np.diff(x.indptr)).astype(np.float32)
    return x


def _sparse_args(x: sp.csr_matrix) -> tuple[tf.Tensor, tf.Tensor]:
    rows = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr))
    index = np.stack([rows, x.indices.astype(np.int64)], axis=1)
    return tf.constant(index, tf.int64), tf.constant(x.data, tf.float32)
