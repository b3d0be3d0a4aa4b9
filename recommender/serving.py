"""Answering "what should this user see": cached list, then on-the-fly scoring, then popularity.

Web processes run this module. It reads exported numpy arrays, never TensorFlow.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
from django.db.models import Count

from . import cache, experiments, itemcache, rules
from .conf import app_settings
from .history import user_history
from .models import Category, Interaction, Item, ModelVersion, new_rec_id

__all__ = [
    "Recommendation",
    "RecommendationList",
    "list_read",
    "recommend_for_user",
    "similar_items",
    "popular_items",
    "load_scorer",
    "score_user",
    "serving_version",
]

logger = logging.getLogger("recommender")
CACHED, COMPUTED, POPULAR = "cached", "computed", "popular"
_READ = object()  # "read the catalogue generation yourself"
PREFETCH = 100  # candidates of a list loaded into the item store on a miss
_last_pointer: int | None = None  # the lists' pointer ("current:default") as last read


@dataclass
class Recommendation:
    """An item of a list, its score, and its categories (ordered by name)."""

    item: Item
    score: float
    categories: Sequence[Category] = ()

    @property
    def external_id(self) -> str:
        return self.item.external_id


@dataclass
class RecommendationList:
    """One answer: items in score order, where they came from, and the id to track it by."""

    recommendations: list[Recommendation]
    source: str
    version_id: int | None = None
    rec_id: str = field(default_factory=new_rec_id)
    experiment_id: int | None = None
    arm: str = ""

    def __iter__(self):
        return iter(self.recommendations)

    def __len__(self) -> int:
        return len(self.recommendations)

    @property
    def items(self) -> list[Item]:
        return [r.item for r in self.recommendations]


# -- exported arrays, loaded once per process ---------------------------------------------

_SCORERS: OrderedDict[tuple[int, str], Any] = OrderedDict()
_SCORERS_LOCK = threading.Lock()
_MAX_SCORERS = 3


def load_scorer(version: ModelVersion):
    """The numpy Scorer of a version, loaded from storage once per process and checked by SHA-256.

    Raises:
        recommender.ml.artifacts.ArtifactIntegrityError: the file does not match its hash.
    """
    from .ml.artifacts import load_arrays
    from .ml.scoring import Scorer

    key = (version.pk, version.artifact_sha256)
    with _SCORERS_LOCK:
        if key in _SCORERS:
            _SCORERS.move_to_end(key)
            return _SCORERS[key]
    with version.artifact.open("rb") as fh:
        arrays = load_arrays(fh, expected_sha256=version.artifact_sha256)
    scorer = Scorer(arrays)
    with _SCORERS_LOCK:
        _SCORERS[key] = scorer
        while len(_SCORERS) > _MAX_SCORERS:
            _SCORERS.popitem(last=False)
    return scorer


def serving_version(slot: str = "default") -> ModelVersion | None:
    """The active version of a slot (its id is cached; one query to load the row)."""
    version_id = cache.get_value(f"active:{slot}")
    if version_id == 0:
        return None
    qs = ModelVersion.objects.ready().filter(artifact__gt="")
    version = qs.filter(pk=version_id).first() if version_id else None
    if version is None:
        version = qs.active().in_slot(slot).first()
        cache.set_value(f"active:{slot}", version.pk if version else 0, 300)
    return version


def _version_by_id(version_id: int | None) -> ModelVersion | None:
    if not version_id:
        return None
    return ModelVersion.objects.ready().filter(pk=version_id, artifact__gt="").first()


def _scorer_or_none(version: ModelVersion | None):
    if version is None:
        return None
    try:
        return load_scorer(version)
    except Exception:  # a missing or corrupt artifact must not take pages down
        logger.exception("cannot load the artifact of model version %s", version.pk)
        return None


# -- loading items, keeping score order -----------------------------------------------------


def _load(
    pairs: Sequence[tuple[int, float]],
    limit: int,
    *,
    categories: Sequence[str] = (),
    exclude: Iterable[str] = (),
    pins: Sequence[int] = (),
    rule_table: dict | None = None,
    token: Any = _READ,
) -> list[Recommendation]:
    """The first ``limit`` showable items of a ranked list, as Recommendations.

    Items come from the process's item store (:mod:`recommender.itemcache`; ``token`` is the
    catalogue generation when the caller already read it). Candidates are taken in windows a
    little larger than ``limit``, and only as far down the list as the showable ones reach;
    when the store lacks some, they are loaded together with the rest of the first
    ``PREFETCH`` candidates (one query and one for categories), so the next requests for the
    list find them all.
    """
    if token is _READ:
        token = itemcache.generation()
    ranked = _ranked(pairs, pins, rules.banned(categories, rule_table))
    excluded = set(exclude)
    in_categories = set(categories)
    window = limit + len(pins) + len(excluded) + 5
    chosen: list[Recommendation] = []
    while chunk := list(islice(ranked, window)):
        rest = (pk for pk, _ in islice(pairs, PREFETCH))  # read only when the store misses
        found = itemcache.entries([pk for pk, _ in chunk], token, prefetch=rest)
        for pk, score in chunk:
            entry = found.get(pk)
            if (
                entry is None
                or not entry.item.is_active
                or entry.item.external_id in excluded
                or (in_categories and in_categories.isdisjoint(entry.slugs))
            ):
                continue
            chosen.append(Recommendation(entry.item, score, entry.categories))
            if len(chosen) >= limit:
                return chosen
    return chosen


def _ranked(
    pairs: Sequence[tuple[int, float]], pins: Sequence[int], banned: set[int]
) -> Iterator[tuple[int, float]]:
    """Pinned items first (with their score in the list, else its top score), then the
    list's, each once, none banned: lazily, since a page rarely reads past its first window."""
    seen = set(banned)
    if pins:
        scores = dict(pairs)
        top = max(scores.values(), default=1.0)
        for pk in pins:
            if pk not in seen:
                seen.add(pk)
                yield pk, float(scores.get(pk, top))
    for pk, score in pairs:
        if pk not in seen:
            seen.add(pk)
            yield pk, float(score)


# -- the chain -----------------------------------------------------------------------------


def score_user(
    scorer, user_id: Any, k: int, *, allowed_mask=None, exclude_keys: Iterable[int] = ()
) -> list[tuple[int, float]]:
    """Fold a user's current history into the model: their top ``k`` (item pk, score).

    An empty history gives an empty list (the caller falls back to popularity).
    """
    keys, weights, disliked = user_history(user_id)
    if not keys:
        return []
    return scorer.recommend(
        np.asarray(keys, dtype=np.int64),
        np.asarray(weights, dtype=np.float32),
        k=k,
        exclude_keys=np.asarray(sorted(disliked | set(exclude_keys)), dtype=np.int64),
        allowed_mask=allowed_mask,
        exclude_seen=app_settings.EXCLUDE_SEEN,
    )


def _category_mask(scorer, categories: Sequence[str]):
    if not categories:
        return None
    pks = Item.objects.active().in_categories(categories).values_list("pk", flat=True)
    return scorer.mask_for(np.fromiter(pks, dtype=np.int64))


def list_read(user: Any) -> cache.ListRead | None:
    """The cache reads of ``user``'s list (None for anonymous users), for a caller that can
    fetch them together with a read of its own before asking :func:`recommend_for_user`:
    the experiment, the lists' pointer, the rule table, the catalogue generation and the
    user's list under the pointer seen last (it rarely moves)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    keys = [experiments.KEY, "current:default", rules.KEY, itemcache.KEY]
    return cache.ListRead(keys, _last_pointer, user.pk)


def recommend_for_user(
    user: Any,
    *,
    limit: int = 10,
    categories: Sequence[str] = (),
    exclude: Iterable[str] = (),
    read: cache.ListRead | None = None,
) -> RecommendationList:
    """A signed-in user's list; anonymous users (or None) get popular items.

    ``read``: the user's :func:`list_read`, when the caller already fetched it; else it is
    read here, in one cache round trip.
    """
    exclude = list(exclude)
    if user is None or not getattr(user, "is_authenticated", False):
        return popular_items(limit=limit, categories=categories, exclude=exclude)
    global _last_pointer
    if read is None or read.user_id != user.pk:
        read = list_read(user)
    guess = read.version_id
    small, cached = read.result()
    token = itemcache.settle(small.get(itemcache.KEY))
    _last_pointer = small.get("current:default")
    arm = experiments.arm_for(user.pk, small.get(experiments.KEY))
    version_id = arm.version_id if arm else _last_pointer
    table = rules.rule_table(small.get(rules.KEY))
    pins = rules.pinned(categories, table)
    options = {
        "categories": categories,
        "exclude": exclude,
        "pins": pins,
        "rule_table": table,
        "token": token,
    }
    if version_id != guess:
        cached = cache.get_list(version_id, user.pk) if version_id else None
    if cached:
        recs = _load(cached["items"], limit, **options)
        if len(recs) >= limit or not categories:
            return _answer(recs, CACHED, version_id, arm)
    version = _version_by_id(arm.version_id) if arm else serving_version()
    scorer = _scorer_or_none(version)
    if scorer is not None:
        k = limit + len(exclude) + len(pins) + 20
        pairs = score_user(scorer, user.pk, k, allowed_mask=_category_mask(scorer, categories))
        recs = _load(pairs, limit, **options)
        if recs:
            return _answer(recs, COMPUTED, version.pk, arm)
    return popular_items(limit=limit, categories=categories, exclude=exclude, user=user)


def _answer(recs, source, version_id, arm) -> RecommendationList:
    return RecommendationList(
        recs,
        source,
        version_id,
        experiment_id=arm.experiment_id if arm else None,
        arm=arm.arm if arm else "",
    )


def similar_items(
    item: Item, *, limit: int = 10, categories: Sequence[str] = (), exclude: Iterable[str] = ()
) -> RecommendationList:
    """Items like ``item`` by the active model (cold items through their content)."""
    version = serving_version()
    scorer = _scorer_or_none(version)
    exclude = [*exclude, item.external_id]
    if scorer is not None:
        pairs = scorer.similar(
            item.pk, k=limit + len(exclude) + 20, allowed_mask=_category_mask(scorer, categories)
        )
        recs = _load(pairs, limit, categories=categories, exclude=exclude)
        if recs:
            return RecommendationList(recs, COMPUTED, version.pk)
    shared = list(item.categories.values_list("slug", flat=True))
    return popular_items(limit=limit, categories=categories or shared, exclude=exclude)


def popular_items(
    *,
    limit: int = 10,
    categories: Sequence[str] = (),
    exclude: Iterable[str] = (),
    user: Any = None,
) -> RecommendationList:
    """Most interacted-with active items of the recent window (overall or in categories)."""
    seen: set[int] = set()
    if user is not None and app_settings.EXCLUDE_SEEN:
        seen = set(Interaction.objects.for_user(user).values_list("item_id", flat=True)[:2000])
    # The popular list, the rule table and the catalogue generation: one cache round trip.
    small = cache.get_values(["popular", rules.KEY, itemcache.KEY])
    table = rules.rule_table(small.get(rules.KEY))
    options = {
        "categories": categories,
        "exclude": exclude,
        "rule_table": table,
        "token": itemcache.settle(small.get(itemcache.KEY)),
    }
    pairs = [(pk, s) for pk, s in _popular_pairs(small.get("popular")) if pk not in seen]
    recs = _load(pairs, limit, pins=rules.pinned(categories, table), **options)
    if len(recs) < limit and categories:
        # A category nobody touched recently still shows its newest items.
        newest = Item.objects.active().in_categories(categories).exclude(pk__in=seen)
        extra = [
            (pk, 0.0)
            for pk in newest.order_by("-created_at").values_list("pk", flat=True)[: limit * 2]
        ]
        recs = _load(pairs + extra, limit, **options)
    return RecommendationList(recs, POPULAR, None)


def _popular_pairs(cached: list | None = None, size: int = 500) -> list[tuple[int, float]]:
    """Item pks and counts, most popular first: ``cached`` when the caller read the cached
    ones, else computed (and cached for 5 minutes)."""
    if cached is not None:
        return [tuple(p) for p in cached]
    window = Interaction.objects.positive().recent(app_settings.POPULARITY_WINDOW_DAYS)
    counts = list(
        window.values("item_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("item_id", "n")[:size]
    )
    if len(counts) < size:  # a quiet site: fall back to all-time counts
        have = {pk for pk, _ in counts}
        more = (
            Interaction.objects.positive()
            .values("item_id")
            .annotate(n=Count("id"))
            .order_by("-n")
            .values_list("item_id", "n")[:size]
        )
        counts += [(pk, n / 1000.0) for pk, n in more if pk not in have]
    cache.set_value("popular", [[int(pk), float(n)] for pk, n in counts], 300)
    return [(int(pk), float(n)) for pk, n in counts]
