"""Fixtures of the fault tests: a cache server that is down, a real Redis, clean state."""

from __future__ import annotations

import os
import socket
import uuid

import pytest
from django.core.cache import caches

from recommender import serving

DEAD_PORT = 6393  # nothing may listen here (the fixture checks)


@pytest.fixture(autouse=True)
def clean_state():
    caches["default"].clear()
    serving._SCORERS.clear()
    yield
    caches["default"].clear()
    serving._SCORERS.clear()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def cache_down(settings):
    """Point the recommender's cache (django-redis, as in production) at a closed port."""
    assert not _listening(DEAD_PORT), f"something listens on port {DEAD_PORT}"
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{DEAD_PORT}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }
    settings.RECOMMENDER = {**settings.RECOMMENDER, "CACHE_ALIAS": "down"}


@pytest.fixture
def real_redis(settings):
    """The recommender's cache on the machine's Redis under a prefix of this test only."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs a real Redis: set REDIS_URL (make test does)")
    prefix = f"recommender-faults-{uuid.uuid4().hex[:10]}"
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2},
        },
    }
    settings.RECOMMENDER = {**settings.RECOMMENDER, "CACHE_ALIAS": "shared"}
    yield {"url": url, "prefix": prefix}
    from django_redis.cache import RedisCache

    RedisCache(url, {"KEY_PREFIX": prefix}).delete_pattern("*")
