"""Production settings pass ``check --deploy``; errors never show a stack trace, in the API,
the admin, or the demo site run with its production environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from recommender import dashboard, services

from .conftest import client_for

ROOT = Path(__file__).resolve().parents[2]
MARKER = "s3cret-internal-detail"
LEAKS = ("Traceback", 'File "', MARKER, "RuntimeError", "site-packages", "/recommender/")


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment project/settings.py documents for production (DEBUG off)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "shop.example.com",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        **extra,
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path):
    env = production_env(tmp_path)
    assert len(env["SECRET_KEY"]) >= 50
    out = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_check_deploy_catches_a_weak_setup(tmp_path):
    weak = production_env(tmp_path, SECRET_KEY="short", SECURE_HSTS_SECONDS="0")
    out = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], weak)
    assert out.returncode != 0
    assert "security.W009" in out.stderr and "security.W004" in out.stderr


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    out = run(["manage.py", "check"], env)
    assert out.returncode != 0 and "Set SECRET_KEY" in out.stderr


# -- no stack traces -------------------------------------------------------------------------


def _boom(*args, **kwargs):
    raise RuntimeError(f"{MARKER}: the database password is hunter2")


def assert_generic(response, status: int) -> None:
    body = response.content.decode()
    assert response.status_code == status, body[:500]
    for leak in LEAKS:
        assert leak not in body, f"{leak!r} leaked in a {status} answer"


@pytest.mark.django_db
def test_an_api_crash_answers_a_generic_500(user, items, monkeypatch, settings, caplog):
    assert settings.DEBUG is False
    monkeypatch.setattr(services, "recommend_for_user", _boom)
    monkeypatch.setattr(services, "popular_items", _boom)
    client = client_for(user)
    client.raise_request_exception = False
    for path in ("/api/recommendations/", "/api/items/popular/"):
        assert_generic(client.get(path), 500)
        assert_generic(client.get(path, HTTP_ACCEPT="text/html"), 500)
    assert MARKER in caplog.text, "operators still get the traceback in the log"


@pytest.mark.django_db
def test_an_admin_crash_answers_a_generic_500(staff, monkeypatch):
    monkeypatch.setattr(dashboard, "rates_by_version", _boom)
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    assert_generic(client.get("/admin/recommender/modelversion/dashboard/"), 500)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method,path,body,status",
    [
        ("post", "/api/interactions/", "{not json", 400),
        ("post", "/api/interactions/", '{"item": "nope", "event_type": "view"}', 400),
        (
            "post",
            "/api/interactions/",
            '[{"item": "i0", "event_type": "rating", "value": "x"}]',
            400,
        ),
        ("get", "/api/recommendations/?limit=-1&exclude=missing", None, 400),
        ("get", "/api/items/?page=999", None, 404),
        ("get", "/api/items/%00/", None, 404),
        ("get", "/api/items/?category=nope", None, 400),
        ("put", "/api/me/data/", "{}", 405),
        ("get", "/api/no-such-endpoint/", None, 404),
        ("get", "/admin/recommender/modelversion/999999/change/", None, 302),
    ],
)
def test_error_paths_answer_4xx_without_internals(method, path, body, status, staff, items):
    client = client_for(staff)
    client.raise_request_exception = False
    kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
    assert_generic(getattr(client, method)(path, **kwargs), status)


def test_the_demo_site_in_production_never_shows_a_traceback(tmp_path):
    """The demo host site with DEBUG off: a crash in a view and an unknown URL answer generic
    pages, over HTTPS as the production settings require."""
    code = f"""
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from recommender import services
def boom(*a, **k):
    raise RuntimeError({MARKER!r})
services.recommend_for_user = boom
c = Client(raise_request_exception=False, HTTP_HOST="shop.example.com")
plain = c.get("/api/recommendations/")
print("REDIRECT", plain.status_code, plain.get("Location"))
for path in ("/api/recommendations/", "/api/nowhere/"):
    r = c.get(path, secure=True)
    print("STATUS", r.status_code)
    print("BODY", r.content.decode().replace("\\n", " "))
"""
    out = run(["-c", code], production_env(tmp_path, REDIS_URL=""))
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stderr[-3000:]
    assert "REDIRECT 301 https://shop.example.com/api/recommendations/" in lines
    assert [line for line in lines if line.startswith("STATUS")] == ["STATUS 500", "STATUS 404"]
    for body in (line for line in lines if line.startswith("BODY")):
        for leak in LEAKS:
            assert leak not in body
