"""The one settings namespace, ``settings.RECOMMENDER``, read lazily with defaults.

Every key, its default and its meaning is listed in ``DEFAULTS`` and in docs/settings.md.
``app_settings`` reloads when ``override_settings`` changes ``RECOMMENDER``.
"""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

__all__ = ["DEFAULTS", "app_settings", "AppSettings"]

DEFAULTS: dict[str, Any] = {
    # Dotted path of the learning backend (a recommender.ml.base.RecommenderBase subclass).
    "BACKEND": "recommender.ml.autoencoder.AutoencoderRecommender",
    # Keyword arguments for the backend; empty means the backend's measured defaults.
    "BACKEND_PARAMS": {},
    # Weight of one event of each type; a negative weight is negative feedback (dislike).
    # A rating's weight is scaled by its value (see RATING_SCALE).
    "EVENT_WEIGHTS": {
        "view": 1.0,
        "click": 2.0,
        "like": 4.0,
        "add_to_cart": 5.0,
        "purchase": 8.0,
        "rating": 4.0,
        "dislike": -4.0,
    },
    # Inclusive (min, max) of a rating's value; ratings below the midpoint count as dislikes.
    "RATING_SCALE": (1.0, 5.0),
    # Half-life in days of the time decay of interactions before training; None disables it.
    "HALF_LIFE_DAYS": None,
    # Users and items with fewer interactions are left out of training.
    "MIN_USER_INTERACTIONS": 1,
    "MIN_ITEM_INTERACTIONS": 1,
    # Alias in settings.CACHES that holds per-user lists (django-redis in production).
    "CACHE_ALIAS": "default",
    # Seconds a cached per-user list lives.
    "CACHE_TIMEOUT": 7 * 24 * 3600,
    # Length of each cached per-user list.
    "LIST_LENGTH": 100,
    # Largest `limit` a caller may ask for.
    "MAX_LIMIT": 100,
    # Largest number of events in one ingestion batch.
    "MAX_BATCH": 1000,
    # Leave items the user already interacted with out of their list.
    "EXCLUDE_SEEN": True,
    # Storage alias (settings.STORAGES) and folder for model artifacts.
    "ARTIFACT_STORAGE": "default",
    "ARTIFACT_PATH": "recommender/models",
    # A new version is activated only if its NDCG@10 is not worse than the active one's by more.
    "PROMOTION_TOLERANCE": 0.01,
    # Days of interactions counted by the "trending" popularity baseline.
    "POPULARITY_WINDOW_DAYS": 30,
    # Retrain once this many interactions arrived since the active version was trained (0: never).
    "RETRAIN_AFTER_INTERACTIONS": 10000,
    # Seconds to wait after a user's event before refreshing their list (debounce).
    "REFRESH_DEBOUNCE_SECONDS": 1.0,
    # Seconds after which the training lock expires if its worker died.
    "TRAIN_LOCK_TIMEOUT": 2 * 3600,
    # Users scored per refresh_all chunk.
    "REFRESH_CHUNK_SIZE": 2000,
    # Ready versions kept per slot; older inactive ones are retired (lists and artifacts deleted).
    "KEEP_VERSIONS": 5,
    # Events carrying a tracked list's rec_id that count the list as clicked (click-through rate).
    "CLICK_EVENTS": ["click", "like", "add_to_cart", "purchase"],
    # Events carrying a tracked list's rec_id that count the list as converted.
    "CONVERSION_EVENTS": ["purchase"],
    # Host models kept in sync with Item: {"app_label.Model": {"title": "name", ...}}.
    "ITEM_MODELS": {},
    # `limit` of API lists and template tags when the caller gives none.
    "DEFAULT_LIMIT": 10,
    # Items per page of the API's paginated lists (catalogue, model versions).
    "PAGE_SIZE": 50,
    # DRF throttle rates per scope ("anon", "user", "ingest"); None disables a scope.
    # A host's partial dict is merged over these.
    "THROTTLE_RATES": {"anon": "120/minute", "user": "1200/minute", "ingest": "300/minute"},
    # Impressions written together: a request writes its own once it holds this many, and a
    # process writes the impressions of finished requests once this many wait.
    "IMPRESSION_BUFFER_SIZE": 500,
    # Seconds the impressions of finished requests may wait to be written together
    # (0: each request's are written when it finishes).
    "IMPRESSION_FLUSH_SECONDS": 1.0,
    # Items each web process keeps between requests for serving lists (0: none); see
    # recommender.itemcache. Catalogue writes through the app empty every process's store.
    "ITEM_CACHE_SIZE": 10000,
    # Seconds after which a process empties its item store anyway (writes the app cannot see).
    "ITEM_CACHE_SECONDS": 300,
}

IMPORT_STRINGS = ("BACKEND",)


class AppSettings:
    """Attribute access to ``settings.RECOMMENDER`` merged over ``DEFAULTS``."""

    def __init__(self) -> None:
        self._cached: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        from django.conf import settings

        return getattr(settings, "RECOMMENDER", {}) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown RECOMMENDER setting: {name!r}")
        if name not in self._cached:
            value = self.user_settings.get(name, DEFAULTS[name])
            if name == "EVENT_WEIGHTS":
                value = {**DEFAULTS["EVENT_WEIGHTS"], **value}
            self._cached[name] = value
        return self._cached[name]

    def import_class(self, name: str) -> Any:
        """Resolve a dotted-path setting (for example ``BACKEND``) to the object it names."""
        assert name in IMPORT_STRINGS, name
        return import_string(getattr(self, name))

    def reload(self) -> None:
        self._cached.clear()


app_settings = AppSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "RECOMMENDER":
        app_settings.reload()


setting_changed.connect(_reload)
