"""Fixtures of the fault tests: a cache server that is down, a real Redis, clean state."""

from __future__ import annotations

import socket

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
