"""Fixtures of the fuzzing tests: the API as a WSGI app on the test database, with tokens."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.authtoken.models import Token

from recommender import serving


@pytest.fixture
def quiet_connections(settings):
    """Requests through Django's WSGI handler (as gunicorn runs it) on the test's transaction.

    Each request would close the connection (and so the test's transaction) at its end, as
    Django's own test client avoids; throttles are off so every example reaches the view.
    """
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "THROTTLE_RATES": {"anon": None, "user": None, "ingest": None},
    }
    caches["default"].clear()
    serving._SCORERS.clear()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        caches["default"].clear()


@pytest.fixture
def staff_token(staff):
    return Token.objects.create(user=staff).key


@pytest.fixture
def user_token(user):
    return Token.objects.create(user=user).key
