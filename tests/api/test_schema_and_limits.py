"""The schema and the docs page, throttling from the settings, and TensorFlow kept out."""

import re
import subprocess
import sys

import pytest
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_the_schema_is_valid_openapi_and_lists_every_endpoint(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/recommendations/",
        "/api/users/{user_id}/recommendations/",
        "/api/items/",
        "/api/items/{external_id}/",
        "/api/items/{external_id}/similar/",
        "/api/items/popular/",
        "/api/interactions/",
        "/api/models/",
        "/api/models/train/",
        "/api/me/data/",
    } <= set(schema["paths"])
    limit = next(
        p
        for p in schema["paths"]["/api/recommendations/"]["get"]["parameters"]
        if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == 100


def test_docs_page_and_browsable_root(api, user):
    from django.contrib.staticfiles import finders

    docs = api.get("/api/docs/")
    assert docs.status_code == 200 and b"/api/schema/" in docs.content
    # Swagger UI's files come from the site's static files (the sidecar), not a CDN.
    assert b"cdn.jsdelivr.net" not in docs.content
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', docs.content.decode())
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    assert all(finders.find(asset) for asset in assets), assets
    api.force_login(user)
    root = api.get("/api/", HTTP_ACCEPT="text/html")
    assert root.status_code == 200 and b"/api/recommendations/" in root.content
    assert api.get("/api/").json()["interactions"].endswith("/api/interactions/")


def test_throttle_rates_come_from_the_settings(api, items, settings, contract):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "THROTTLE_RATES": {"anon": "2/minute"}}
    assert api.get("/api/items/").status_code == 200
    assert api.get("/api/items/").status_code == 200
    throttled = contract(api.get("/api/items/"))
    assert throttled.status_code == 429 and "throttled" in throttled.json()["detail"]


def test_a_scope_set_to_none_is_not_throttled(api, items, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "THROTTLE_RATES": {"anon": None, "user": None}}
    assert all(api.get("/api/items/").status_code == 200 for _ in range(5))


def test_ingestion_has_its_own_rate(as_user, items, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "THROTTLE_RATES": {"ingest": "1/minute"}}
    event = {"item": "i1", "event_type": "view"}
    assert as_user.post("/api/interactions/", event, format="json").status_code == 201
    assert as_user.post("/api/interactions/", event, format="json").status_code == 429
    assert as_user.get("/api/items/").status_code == 200


def test_throttling_lets_requests_through_when_the_cache_is_down(api, items, settings):
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        },
    }  # nothing listens on the discard port
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "CACHE_ALIAS": "down",
        "THROTTLE_RATES": {"anon": "1/minute"},
    }
    assert [api.get("/api/items/").status_code for _ in range(3)] == [200, 200, 200]


def test_serving_the_api_and_the_tags_never_imports_tensorflow(tmp_path):
    code = """
import sys, django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.template import engines
from django.test import Client
from recommender.models import Category, Item
item = Item.objects.create(external_id="a", title="A")
c = Client()
assert c.get("/api/recommendations/").status_code == 200
assert c.get("/api/items/a/similar/").status_code == 200
engines["django"].from_string(
    "{% load recommender %}{% recommendations_widget None %}").render({})
print("tensorflow" in sys.modules)
"""
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": "sqlite://:memory:",
        "PATH": "/usr/bin:/bin",
        "RECOMMENDER_TEST_MEDIA": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(__import__("pathlib").Path(__file__).parents[2]),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
