"""Keeping per-user lists fresh: one user after an event, every user after a new version.

A full refresh of version V runs in three steps that Celery fans out (see ``tasks``):
:func:`plan_refresh` splits the users with history into chunks; :func:`score_chunk` loads a
chunk's histories in one query, scores them in one batched numpy pass and writes the lists
with pipelined ``set_many``; :func:`switch_lists` then points readers at V in one ``set``,
only once every chunk wrote, and only if V is still the active version. A reader reads the
pointer once, so it never sees lists of two versions. :func:`refresh_all` does the same in
one process (commands, benchmarks, eager mode).

Only numpy scoring of exported arrays happens here; TensorFlow is never imported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.contrib.auth import get_user_model
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from . import cache, experiments, registry
from .conf import app_settings
from .history import HISTORY_LENGTH, event_weights
from .models import Interaction, ModelVersion
from .serving import load_scorer
from .training import enqueue_version

__all__ = [
    "HistoryBatch",
    "load_histories",
    "rank_histories",
    "refresh_user",
    "refresh_users",
    "claim_refresh",
    "claim_refreshes",
    "release_refresh",
    "release_refreshes",
    "plan_refresh",
    "score_chunk",
    "switch_lists",
    "refresh_all",
    "retire_old_versions",
    "retrain_due",
]

logger = logging.getLogger("recommender")
# Users scored together in rank_histories: memory is SCORE_ROWS x n_items float32 scores.
SCORE_ROWS = 1024
PENDING_TTL = 6 * 3600  # a full refresh that has not switched after this is considered dead


def _pending_key(slot: str) -> str:
    return f"refreshing:{slot}"


def _debounce_key(user_id: Any) -> str:
    return f"refresh-due:{user_id}"


def _servable(version_id: int | None) -> ModelVersion | None:
    if not version_id:
        return None
    return ModelVersion.objects.ready().filter(pk=version_id, artifact__gt="").first()


def _write(version_id: int, lists: dict[Any, list[tuple[int, float]]]) -> None:
    if lists and not cache.set_lists(version_id, lists):
        raise cache.CacheUnavailable(f"could not write {len(lists)} lists of version {version_id}")


# -- one user, after their events ----------------------------------------------------------


def claim_refreshes(user_ids: Iterable[Any]) -> list[Any]:
    """The users whose refresh this call claimed: those without one due already, so the
    caller enqueues one refresh for the first event of a burst (one cache round trip).

    A claim lives a little longer than the debounce delay; the refresh drops it when it
    starts, so an event that arrives while a refresh runs schedules the next one.
    """
    ids = list(dict.fromkeys(user_ids))
    ttl = float(app_settings.REFRESH_DEBOUNCE_SECONDS) + 30
    claimed = cache.add_values([_debounce_key(u) for u in ids], 1, ttl)
    return [u for u, ok in zip(ids, claimed, strict=True) if ok]


def claim_refresh(user_id: Any) -> bool:
    """:func:`claim_refreshes` for one user."""
    return bool(claim_refreshes([user_id]))


def release_refreshes(user_ids: Iterable[Any]) -> None:
    """Give up claims (refresh started, or could not be enqueued: the next event tries)."""
    cache.delete_values([_debounce_key(u) for u in user_ids])


def release_refresh(user_id: Any) -> None:
    release_refreshes([user_id])


def _as_pks(user_ids: Iterable[Any]) -> list[Any]:
    """User ids as the database returns them (a task's JSON may have turned them to str)."""
    field = get_user_model()._meta.pk
    return list(dict.fromkeys(field.to_python(u) for u in user_ids))


def _versions_for(user_ids: list[Any]) -> dict[int, list[Any]]:
    """Version -> users whose lists of it may be served: the pointer's (or the active one),
    a full refresh in progress (everyone), and each user's experiment arm."""
    current = cache.get_current_version()
    if current is None:
        active = registry.active_version()
        current = active.pk if active else None
    shared = [v for v in dict.fromkeys([current, cache.get_value(_pending_key("default"))]) if v]
    plan = {v: list(user_ids) for v in shared}
    for user_id in user_ids:
        arm = experiments.arm_for(user_id)
        if arm and arm.version_id not in shared:
            plan.setdefault(arm.version_id, []).append(user_id)
    return plan


def refresh_users(user_ids: Iterable[Any]) -> int:
    """Rescore users from their current histories and rewrite their cached lists.

    Per version a user may be served (the one readers use, a full refresh in progress, an
    experiment arm), all the users' histories are loaded in one query and scored in one
    batched pass (as in :func:`score_chunk`); users without positive history lose their
    lists of it, so readers fall back to popularity.

    Returns:
        How many lists were written.

    Raises:
        CacheUnavailable: a write failed (the task retries).
    """
    ids = _as_pks(user_ids)
    release_refreshes(ids)
    written = 0
    for version_id, users in _versions_for(ids).items():
        version = _servable(version_id)
        if version is None:
            continue
        scorer = load_scorer(version)
        lists = rank_histories(scorer, load_histories(users, scorer), app_settings.LIST_LENGTH)
        _write(version.pk, lists)
        cache.delete_lists(version.pk, [u for u in users if u not in lists])
        written += len(lists)
    return written


def refresh_user(user_id: Any) -> int:
    """:func:`refresh_users` for one user: a just-bought item leaves their list, related
    items rise."""
    return refresh_users([user_id])


# -- many users at once ---------------------------------------------------------------------


@dataclass
class HistoryBatch:
    """Histories of many users as one CSR over a scorer's items.

    ``histories[r]`` is the history of ``user_ids[r]`` (weights as in ``user_history``);
    ``times`` aligns with ``histories.data`` and orders each user's items (larger is newer);
    ``disliked[r]`` holds the item keys that user disliked.
    """

    user_ids: list[Any]
    histories: sp.csr_matrix
    times: np.ndarray
    disliked: list[np.ndarray]


def _history_rows(user_ids: Sequence[Any]) -> list[tuple]:
    """Each user's newest HISTORY_LENGTH events, newest first, in one query."""
    newest = Window(
        RowNumber(), partition_by=[F("user_id")], order_by=[F("timestamp").desc(), F("id").desc()]
    )
    return list(
        Interaction.objects.filter(user_id__in=list(user_ids))
        .annotate(newest=newest)
        .filter(newest__lte=HISTORY_LENGTH)
        .order_by("user_id", "-timestamp", "-id")
        .values_list("user_id", "item_id", "event_type", "value")
    )


def load_histories(user_ids: Sequence[Any], scorer) -> HistoryBatch:
    """Load and weigh the histories of ``user_ids`` the way ``history.user_history`` does,
    for all of them in one query, as a CSR over ``scorer``'s items.

    Users without positive history on items the model knows are left out of the batch.
    """
    rows = _history_rows(user_ids)
    if not rows:
        return HistoryBatch(
            [], sp.csr_matrix((0, scorer.n_items), dtype=np.float32), np.empty(0), []
        )
    users, items, types, values = zip(*rows, strict=True)
    order_of = {u: n for n, u in enumerate(dict.fromkeys(users))}
    row = np.fromiter((order_of[u] for u in users), np.int64, len(users))
    item = np.asarray(items, np.int64)
    pair, first, inverse = np.unique(
        row * (int(item.max()) + 1) + item, return_index=True, return_inverse=True
    )
    net = np.bincount(inverse, weights=event_weights(types, values), minlength=len(pair))
    pair_row, pair_item = row[first], item[first]
    disliked = _split_by_row(pair_row[net < 0], pair_item[net < 0], len(order_of))
    column = scorer.index_of(pair_item)
    keep = (net > 0) & (column >= 0)
    return _as_csr(
        list(order_of),
        pair_row[keep],
        column[keep],
        np.log2(1.0 + net[keep]),
        -first[keep].astype(np.float64),
        disliked,
        scorer.n_items,
    )


def _split_by_row(rows: np.ndarray, values: np.ndarray, n_rows: int) -> list[np.ndarray]:
    """``values`` grouped by their (sorted) ``rows``: one array per row, empty ones included."""
    return np.split(values, np.cumsum(np.bincount(rows, minlength=n_rows))[:-1])


def _as_csr(user_ids, rows, cols, weights, times, disliked, n_items) -> HistoryBatch:
    """A canonical CSR of the non-empty rows, with times and dislikes kept aligned."""
    present = np.unique(rows)
    renumber = np.full(len(user_ids), -1, np.int64)
    renumber[present] = np.arange(len(present))
    rows = renumber[rows]
    order = np.lexsort((cols, rows))
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=len(present)))]
    csr = sp.csr_matrix(
        (weights[order].astype(np.float32), cols[order].astype(np.int32), indptr),
        shape=(len(present), n_items),
    )
    return HistoryBatch(
        [user_ids[r] for r in present], csr, times[order], [disliked[r] for r in present]
    )


def rank_histories(scorer, batch: HistoryBatch, k: int) -> dict[Any, list[tuple[int, float]]]:
    """Top ``k`` (item key, score) per user of a batch, scored SCORE_ROWS users at a time.

    Seen items (when EXCLUDE_SEEN is on) and disliked items are left out. The scores come from
    ``Scorer.score`` (the same products as ``Scorer.recommend_batch``); excluded items are set
    to -inf in place and the top ``k`` found with one ``argpartition``, because the boolean
    mask and the two extra copies of the score matrix that ``recommend_batch`` makes cost
    about 0.7x the products and partition themselves at 20,000 items (benchmarks/README.md).
    """
    if not batch.user_ids:
        return {}
    keys, scores = _top_k(scorer, batch, k)
    valid = keys >= 0
    complete = valid.all(axis=1)
    key_rows, score_rows = keys.tolist(), scores.tolist()  # whole matrices at once: fast
    lists = {}
    for r, user_id in enumerate(batch.user_ids):
        pairs = zip(key_rows[r], score_rows[r], strict=True)
        if complete[r]:
            lists[user_id] = list(pairs)
        else:
            lists[user_id] = [p for p, ok in zip(pairs, valid[r].tolist(), strict=True) if ok]
    return lists


def _top_k(scorer, batch: HistoryBatch, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Item keys (-1 where nothing is left) and scores, ``[n, k]``, best first."""
    histories = batch.histories
    n, k = histories.shape[0], min(k, scorer.n_items)
    keys = np.full((n, k), -1, np.int64)
    values = np.full((n, k), -np.inf, np.float32)
    rows, cols = _excluded(scorer, batch)
    for lo in range(0, n, SCORE_ROWS):
        hi = min(lo + SCORE_ROWS, n)
        times = batch.times[histories.indptr[lo] : histories.indptr[hi]]
        scores = scorer.score(histories[lo:hi], times)  # a new array: masked in place
        a, b = np.searchsorted(rows, [lo, hi])
        scores[rows[a:b] - lo, cols[a:b]] = -np.inf
        index, values[lo:hi] = _best(scores, k)
        keys[lo:hi] = np.where(index >= 0, scorer.item_keys[np.maximum(index, 0)], -1)
    return keys, values


def _excluded(scorer, batch: HistoryBatch) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every item a row must not get, sorted by row."""
    histories = batch.histories
    parts = [(np.empty(0, np.int64), np.empty(0, np.int64))]
    if app_settings.EXCLUDE_SEEN:
        counts = np.diff(histories.indptr)
        parts.append((np.repeat(np.arange(len(counts)), counts), histories.indices))
    for r, disliked in enumerate(batch.disliked):
        index = scorer.index_of(disliked) if len(disliked) else ()
        if len(index):
            index = index[index >= 0]
            parts.append((np.full(len(index), r), index))
    rows = np.concatenate([p[0] for p in parts]).astype(np.int64)
    cols = np.concatenate([p[1] for p in parts]).astype(np.int64)
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order]


def _best(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of each row's ``k`` largest scores, best first (ties by column);
    column -1 where only -inf was left."""
    if k < scores.shape[1]:
        columns = np.argpartition(scores, -k, axis=1)[:, -k:]
    else:
        columns = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    values = np.take_along_axis(scores, columns, axis=1)
    order = np.lexsort((columns, -values), axis=-1)
    columns = np.take_along_axis(columns, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    return np.where(values > -np.inf, columns, -1), values


def plan_refresh(version_id: int) -> list[list[Any]] | None:
    """Chunks of REFRESH_CHUNK_SIZE ids of the users with history, or None if the version
    cannot serve. Marks the refresh as in progress so that single-user refreshes write the
    new version's lists too."""
    version = _servable(version_id)
    if version is None:
        logger.warning("not refreshing lists of model version %s: it cannot serve", version_id)
        return None
    cache.set_value(_pending_key(version.slot), version.pk, PENDING_TTL)
    users = list(
        Interaction.objects.order_by("user_id").values_list("user_id", flat=True).distinct()
    )
    size = max(1, int(app_settings.REFRESH_CHUNK_SIZE))
    return [users[i : i + size] for i in range(0, len(users), size)]


def score_chunk(version_id: int, user_ids: Sequence[Any]) -> int:
    """Score one chunk of users with a version and write their lists; how many were written.

    Raises:
        CacheUnavailable: a write failed (the task retries; rewriting is harmless).
    """
    version = _servable(version_id)
    if version is None:
        return 0
    scorer = load_scorer(version)
    lists = rank_histories(scorer, load_histories(user_ids, scorer), app_settings.LIST_LENGTH)
    _write(version.pk, lists)
    return len(lists)


def switch_lists(version_id: int) -> bool:
    """Point readers at the lists of ``version_id``, if it is still the active version.

    Raises:
        CacheUnavailable: the pointer could not be written (the task retries).
    """
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None or not version.is_active:
        logger.info(
            "lists of model version %s written but not switched to: no longer active", version_id
        )
        return False
    if not cache.set_current_version(version.pk, version.slot):
        raise cache.CacheUnavailable(f"could not switch readers to version {version.pk}")
    if cache.get_value(_pending_key(version.slot)) == version.pk:
        cache.delete_value(_pending_key(version.slot))
    logger.info("readers now use the cached lists of model version %s", version.pk)
    return True


def refresh_all(version_id: int) -> int:
    """Every chunk of :func:`plan_refresh`, then :func:`switch_lists`, in this process."""
    chunks = plan_refresh(version_id)
    if chunks is None:
        return 0
    written = sum(score_chunk(version_id, chunk) for chunk in chunks)
    switch_lists(version_id)
    return written


# -- housekeeping ---------------------------------------------------------------------------


def _protected_versions() -> set[int]:
    """Versions that may still serve: cache pointers, refreshes in flight, experiment arms."""
    slots = ModelVersion.objects.order_by().values_list("slot", flat=True).distinct()
    found = {cache.get_current_version(s) for s in slots}
    found |= {cache.get_value(_pending_key(s)) for s in slots}
    exp = experiments.running() or {}
    found |= {exp.get("a"), exp.get("b")}
    return {v for v in found if v}


def retire_old_versions(keep: int | None = None) -> list[int]:
    """Retire ready, inactive versions beyond the newest ``keep`` of each slot.

    Their cached lists and artifact files are deleted; the rows stay, with their metrics.
    Versions that readers or an experiment may still use are kept.

    Returns:
        The ids of the retired versions.
    """
    keep = app_settings.KEEP_VERSIONS if keep is None else keep
    protected = _protected_versions()
    retired = []
    for slot in ModelVersion.objects.order_by().values_list("slot", flat=True).distinct():
        for version in ModelVersion.objects.retirable(keep, slot).exclude(pk__in=protected):
            _retire(version)
            retired.append(version.pk)
    return retired


def _retire(version: ModelVersion) -> None:
    cache.delete_version(version.pk)
    for field in (version.artifact, version.model_file):
        if field:
            field.delete(save=False)
    version.status = ModelVersion.Status.RETIRED
    version.note = f"{version.note}\nRetired {timezone.now():%Y-%m-%d %H:%M}.".strip()
    version.save(update_fields=["status", "note", "artifact", "model_file"])
    logger.info("retired model version %s", version.pk)


def _new_interactions(version: ModelVersion | None) -> Any:
    if version is None or version.trained_through is None:
        return Interaction.objects.all()
    return Interaction.objects.filter(timestamp__gt=version.trained_through)


def retrain_due(slot: str = "default") -> ModelVersion | None:
    """Queue a version when RETRAIN_AFTER_INTERACTIONS interactions arrived since the active
    version was trained (and no run is queued or training); the caller enqueues its training.
    """
    threshold = int(app_settings.RETRAIN_AFTER_INTERACTIONS)
    if threshold <= 0:
        return None
    recent = timezone.now() - timedelta(seconds=app_settings.TRAIN_LOCK_TIMEOUT)
    busy = ModelVersion.objects.in_slot(slot).filter(
        status__in=[ModelVersion.Status.QUEUED, ModelVersion.Status.TRAINING],
        created_at__gte=recent,
    )
    if busy.exists():
        return None
    arrived = _new_interactions(registry.active_version(slot)).order_by()
    if arrived[:threshold].count() < threshold:
        return None
    return enqueue_version(slot=slot)
