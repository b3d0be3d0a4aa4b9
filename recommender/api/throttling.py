"""Throttles with rates from ``RECOMMENDER["THROTTLE_RATES"]``, open when the cache is down."""

from __future__ import annotations

import logging

from django.core.cache import caches
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from .. import cache
from ..conf import DEFAULTS, app_settings

__all__ = ["AnonThrottle", "UserThrottle", "IngestThrottle"]

logger = logging.getLogger("recommender")


class _SettingsRateMixin:
    """Read the rate of ``scope`` from the app's settings and keep counts in its cache alias."""

    scope: str

    def __init__(self) -> None:
        self.cache = caches[app_settings.CACHE_ALIAS]
        super().__init__()

    def get_rate(self) -> str | None:
        rates = {**DEFAULTS["THROTTLE_RATES"], **(app_settings.THROTTLE_RATES or {})}
        return rates.get(self.scope)

    def get_ident(self, request) -> str:
        """The client's address. Unlike DRF's default, X-Forwarded-For is trusted only when
        the host says how many proxies stand in front (``REST_FRAMEWORK["NUM_PROXIES"]``), so
        a caller cannot reset their budget by sending a new forwarded address each time."""
        from rest_framework.settings import api_settings

        if api_settings.NUM_PROXIES is None:
            return request.META.get("REMOTE_ADDR", "")
        return super().get_ident(request)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        try:
            return self._allow(request, view)
        except Exception:  # a throttle must not turn a cache outage into failed requests
            logger.warning(
                "throttle %s could not reach the cache; allowing", self.scope, exc_info=True
            )
            return True

    def _allow(self, request, view) -> bool:
        """DRF's ``SimpleRateThrottle.allow_request``, counted in one atomic round trip on
        Redis (:func:`recommender.cache.count_request`), which also brings the view's own
        cache reads when the view offers them (``view.cache_read(request)``, a
        :class:`recommender.cache.ListRead`). On other caches, DRF's read-then-write, with the
        history read together with the view's reads."""
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        offered = getattr(view, "cache_read", None)
        read = offered(request) if offered is not None else None
        self.now = self.timer()
        self.counted = cache.count_request(
            self.key, self.duration, self.num_requests, self.now, read
        )
        if self.counted is not None:
            return self.counted.allowed or self.throttle_failure()
        if read is None:
            self.history = self.cache.get(self.key, [])
        else:
            self.history = read.fetch_with(self.cache, self.key, [])
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()

    def wait(self) -> float | None:
        """Seconds until the oldest request in the window leaves it (the Retry-After)."""
        counted = getattr(self, "counted", None)
        if counted is None:
            return super().wait()
        if counted.oldest is None:
            return self.duration
        return max(0.0, self.duration - (self.now - counted.oldest))


class AnonThrottle(_SettingsRateMixin, AnonRateThrottle):
    scope = "anon"


class UserThrottle(_SettingsRateMixin, UserRateThrottle):
    scope = "user"


class IngestThrottle(_SettingsRateMixin, UserRateThrottle):
    """Counts ingestion requests (each up to MAX_BATCH events) apart from reads."""

    scope = "ingest"
