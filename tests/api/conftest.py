"""Fixtures of the API, tag and tracking tests: clients, the schema as a contract, cached lists."""

from __future__ import annotations

import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import plant_lists


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_staff(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture
def token_client(user):
    """A client that signs in with the user's API token, as a mobile app would."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


_SCHEMA: dict = {}


@pytest.fixture
def schema(db):
    """The OpenAPI document the API serves at /api/schema/ (generated once per run)."""
    if not _SCHEMA:
        response = APIClient().get("/api/schema/", {"format": "json"})
        assert response.status_code == 200
        _SCHEMA.update(json.loads(response.content))
    return _SCHEMA


@pytest.fixture
def contract(schema):
    """check(response): the response (status, headers, body) is one the schema documents."""
    from openapi_core import OpenAPI
    from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse

    spec = OpenAPI.from_dict(schema)

    def check(response):
        spec.validate_response(
            DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response)
        )
        return response

    return check


@pytest.fixture
def cached_lists(trained_version):
    """Put hand-made lists of the trained version in the cache, as a refresh would.

    Returns {user: [external ids in cached order]}; each user's list is in reverse title order,
    unlike anything the model computes, so a test can tell cached answers from computed ones.
    """
    return lambda user, external_ids: plant_lists(trained_version.pk, user, external_ids)


@pytest.fixture
def in_request():
    """A context manager standing for one request: impressions are written when it ends."""
    from contextlib import contextmanager

    def send(signal):
        # As Django's test client does: keep the test's transaction open across the signal.
        signal.disconnect(close_old_connections)
        try:
            signal.send(sender=None)
        finally:
            signal.connect(close_old_connections)

    @contextmanager
    def request():
        send(request_started)
        try:
            yield
        finally:
            send(request_finished)

    return request
