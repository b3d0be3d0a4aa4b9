"""Training a model version from the interaction log: build, evaluate, store, promote.

Only worker code paths call :func:`train`; the learning backend imports TensorFlow lazily.
"""

from __future__ import annotations

import logging
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from . import cache, registry
from .conf import app_settings
from .history import event_weights
from .models import Interaction, Item, ModelVersion

__all__ = [
    "TrainingData",
    "load_training_data",
    "enqueue_version",
    "train",
    "TrainingBusy",
    "fail_stale_runs",
    "content_matrix",
]

logger = logging.getLogger("recommender")
LOCK_KEY = "train-lock"
EpochCallback = Callable[[int, dict], None]


class TrainingBusy(RuntimeError):
    """Another training run holds the lock."""


@dataclass
class TrainingData:
    """Every event as parallel arrays, plus the active catalogue (for cold items)."""

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    timestamps: np.ndarray
    catalogue: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


def load_training_data(chunk: int = 20_000) -> TrainingData:
    """Read the log with ``values_list`` in chunks: no model instances, bounded memory."""
    rows = Interaction.objects.order_by().values_list(
        "user_id", "item_id", "event_type", "value", "timestamp"
    )
    users, items, weights, stamps = [], [], [], []
    batch: list[tuple] = []
    for row in rows.iterator(chunk_size=chunk):
        batch.append(row)
        if len(batch) == chunk:
            _consume(batch, users, items, weights, stamps)
            batch = []
    _consume(batch, users, items, weights, stamps)
    catalogue = np.fromiter(Item.objects.active().values_list("pk", flat=True), dtype=np.int64)
    return TrainingData(
        _join(users, np.int64),
        _join(items, np.int64),
        _join(weights, np.float64),
        _join(stamps, np.float64),
        catalogue,
    )


def _join(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype)


def _consume(batch, users, items, weights, stamps) -> None:
    if not batch:
        return
    u, i, t, v, ts = zip(*batch, strict=True)
    users.append(np.asarray(u))
    items.append(np.asarray(i, dtype=np.int64))
    weights.append(event_weights(t, v))
    stamps.append(np.fromiter((x.timestamp() for x in ts), dtype=np.float64, count=len(ts)))


def content_matrix(item_keys: np.ndarray):
    """Content features (title, description, category names) of items, aligned with keys."""
    from .ml.content import featurize

    position = {int(k): n for n, k in enumerate(item_keys)}
    texts = [""] * len(item_keys)
    cats: list[list[str]] = [[] for _ in item_keys]
    for pk, title, description in (
        Item.objects.filter(pk__in=position)
        .values_list("pk", "title", "description")
        .iterator(chunk_size=5000)
    ):
        texts[position[pk]] = f"{title} {description}"
    through = Item.categories.through.objects.filter(item_id__in=position)
    for pk, name in through.values_list("item_id", "category__name").iterator(chunk_size=5000):
        cats[position[pk]].append(name)
    return featurize(texts, cats)


def enqueue_version(params: dict | None = None, slot: str = "default") -> ModelVersion:
    """Create a queued version that a worker (or the train command) will train."""
    return ModelVersion.objects.create(
        slot=slot,
        algorithm=app_settings.BACKEND,
        params={**app_settings.BACKEND_PARAMS, **(params or {})},
    )


def fail_stale_runs() -> int:
    """Mark failed the runs left "training" by a worker that died (its lock expired)."""
    if cache.get_value(LOCK_KEY) is not None:
        return 0
    return _fail_orphaned_runs()


def _fail_orphaned_runs() -> int:
    """Mark failed every run still "training": called only when no live run holds the lock."""
    return ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING).update(
        status=ModelVersion.Status.FAILED,
        finished_at=timezone.now(),
        error="The worker stopped before training finished (its lock expired).",
    )


def train(
    version_id: int | None = None,
    *,
    on_epoch: EpochCallback | None = None,
    params: dict | None = None,
) -> ModelVersion:
    """Train a version (a queued one, or a new one), evaluate it, store it, maybe activate it.

    One run at a time: a lock in the cache (Redis in production) expires after
    TRAIN_LOCK_TIMEOUT if the worker dies. Raises TrainingBusy when another run holds it.
    """
    if not cache.add_value(LOCK_KEY, version_id or 0, app_settings.TRAIN_LOCK_TIMEOUT):
        raise TrainingBusy("Another training run is in progress.")
    try:
        _fail_orphaned_runs()  # we hold the lock: any such run is dead
        version = ModelVersion.objects.get(pk=version_id) if version_id else enqueue_version(params)
        if version.status != ModelVersion.Status.QUEUED:
            return version  # a retried task whose run already happened
        cache.set_value(LOCK_KEY, version.pk, app_settings.TRAIN_LOCK_TIMEOUT)
        return _run(version, on_epoch)
    finally:
        cache.delete_value(LOCK_KEY)


def _run(version: ModelVersion, on_epoch: EpochCallback | None) -> ModelVersion:
    from .ml.data import InsufficientData

    version.status, version.started_at = ModelVersion.Status.TRAINING, timezone.now()
    version.save(update_fields=["status", "started_at"])
    started = time.perf_counter()
    try:
        outcome = _fit_and_evaluate(version, on_epoch)
    except InsufficientData as exc:
        return _fail(version, f"Not enough data to train: {exc}", started)
    except Exception:
        logger.exception("training of model version %s failed", version.pk)
        return _fail(version, traceback.format_exc(limit=8), started)
    return _finish(version, outcome, started)


def _fail(version: ModelVersion, error: str, started: float) -> ModelVersion:
    version.status, version.error = ModelVersion.Status.FAILED, error
    version.finished_at = timezone.now()
    version.training_seconds = time.perf_counter() - started
    version.save(update_fields=["status", "error", "finished_at", "training_seconds"])
    return version


@dataclass
class _Outcome:
    model: Any
    dataset: Any
    metrics: dict
    trained_through: Any


def _backend(params: dict):
    return app_settings.import_class("BACKEND")(**params)


def _prepare(data: TrainingData, mask: np.ndarray | None = None):
    from .ml.data import prepare

    sel = slice(None) if mask is None else mask
    return prepare(
        data.users[sel],
        data.items[sel],
        data.weights[sel],
        data.timestamps[sel],
        min_user_interactions=app_settings.MIN_USER_INTERACTIONS,
        min_item_interactions=app_settings.MIN_ITEM_INTERACTIONS,
        half_life_days=app_settings.HALF_LIFE_DAYS,
        extra_item_keys=data.catalogue,
    )


def _fit_and_evaluate(version: ModelVersion, on_epoch: EpochCallback | None) -> _Outcome:
    from .evaluate import evaluate_on_holdout

    data = load_training_data()
    dataset = _prepare(data)  # fails early, with a clear message, on too little data
    metrics = evaluate_on_holdout(data, lambda: _backend(version.params), _prepare, content_matrix)
    model = _backend(version.params)
    model.fit(
        dataset,
        content_matrix(dataset.item_keys),
        validation=True,
        on_epoch=_recorder(version, on_epoch),
    )
    through = datetime.fromtimestamp(float(data.timestamps.max()), tz=UTC)
    return _Outcome(model, dataset, metrics, through)


def _recorder(version: ModelVersion, on_epoch: EpochCallback | None) -> EpochCallback:
    def record(epoch: int, logs: dict) -> None:
        entry = {"epoch": epoch, **{k: float(v) for k, v in logs.items()}}
        version.history = [*version.history, entry]
        ModelVersion.objects.filter(pk=version.pk).update(history=version.history)
        if on_epoch is not None:
            on_epoch(epoch, logs)

    return record


def _store_artifacts(version: ModelVersion, model: Any) -> None:
    from .ml.artifacts import save_arrays, sha256_of

    storage = storages[app_settings.ARTIFACT_STORAGE]
    folder = app_settings.ARTIFACT_PATH.rstrip("/")
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "arrays.npz"
        version.artifact_sha256 = save_arrays(model.export(), npz)
        with npz.open("rb") as fh:
            version.artifact.name = storage.save(f"{folder}/v{version.pk}.npz", File(fh))
        if hasattr(model, "save_keras"):
            keras_path = Path(tmp) / "model.keras"
            model.save_keras(keras_path)
            version.model_sha256 = sha256_of(keras_path)
            with keras_path.open("rb") as fh:
                version.model_file.name = storage.save(f"{folder}/v{version.pk}.keras", File(fh))


def _finish(version: ModelVersion, outcome: _Outcome, started: float) -> ModelVersion:
    _store_artifacts(version, outcome.model)
    ds = outcome.dataset
    version.metrics = outcome.metrics
    version.params = {**version.params, **getattr(outcome.model, "params", {})}
    version.n_users, version.n_items, version.n_interactions = ds.n_users, ds.n_items, ds.nnz
    version.trained_through = outcome.trained_through
    version.status, version.finished_at = ModelVersion.Status.READY, timezone.now()
    version.training_seconds = time.perf_counter() - started
    with transaction.atomic():
        version.save()
        promote, reason = promotion_decision(version)
        version.note = reason
        version.save(update_fields=["note"])
        if promote:
            registry.activate(version, note=reason)
    return version


def promotion_decision(version: ModelVersion) -> tuple[bool, str]:
    """Whether a freshly trained version should serve, and why (stored as its note)."""
    ours = version.metrics.get("default", {}).get("ndcg@10")
    popular = version.metrics.get("popularity", {}).get("ndcg@10")
    current = registry.active_version(version.slot)
    if ours is None:
        if current is None:
            return True, "Activated without evaluation: too few users with 5+ interactions."
        return False, "Not activated: too few users with 5+ interactions to evaluate it."
    if popular is not None and ours <= popular:
        return False, f"Not activated: NDCG@10 {ours:.4f} does not beat popularity {popular:.4f}."
    theirs = (current.metrics or {}).get("default", {}).get("ndcg@10") if current else None
    tolerance = app_settings.PROMOTION_TOLERANCE
    if theirs is not None and ours < theirs - tolerance:
        return False, (
            f"Not activated: NDCG@10 {ours:.4f} is worse than the active "
            f"version #{current.pk}'s {theirs:.4f} by more than {tolerance}."
        )
    return True, f"Activated: NDCG@10 {ours:.4f} (popularity {popular or 0:.4f})."
