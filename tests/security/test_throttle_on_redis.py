"""The API's throttles on Redis: counted atomically on the server, so concurrent requests of
one client share one budget; and a Redis that refuses scripts still throttles."""

from __future__ import annotations

import logging
import threading
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches

from recommender.api.throttling import UserThrottle

from .conftest import client_for, set_rates

pytestmark = pytest.mark.django_db


def test_concurrent_requests_of_one_client_share_its_budget(real_redis, settings):
    set_rates(settings, user="10/minute")
    caller = SimpleNamespace(user=get_user_model()(pk=987654), META={})
    start = threading.Barrier(40)
    allowed = []

    def one_request():
        throttle = UserThrottle()
        start.wait()
        allowed.append(throttle.allow_request(caller, None))

    threads = [threading.Thread(target=one_request) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Read-then-write from each client would let several see the same history and pass.
    assert allowed.count(True) == 10 and len(allowed) == 40
    log = caches["shared"].client.make_key("throttle_user_987654:log")
    assert caches["shared"].client.get_client().llen(log) == 10


def test_a_refused_answer_says_when_to_retry(real_redis, settings, user, items):
    set_rates(settings, user="2/minute")
    client = client_for(user, token=True)
    assert [client.get("/api/items/").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/recommendations/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60


@pytest.fixture
def redis_refusing_scripts(real_redis, settings):
    """The app's cache on a Redis account that may not run scripts (as some managed Redis
    services are set up), under the test's key prefix."""
    import redis

    admin = redis.Redis.from_url(real_redis["url"])
    name, password = f"recommender-noscript-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.acl_setuser(
        name,
        enabled=True,
        passwords=[f"+{password}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-@scripting"],
    )
    url = real_redis["url"].replace("redis://", f"redis://{name}:{password}@", 1)
    settings.CACHES = {
        **settings.CACHES,
        "shared": {**settings.CACHES["shared"], "LOCATION": url},
    }
    yield url
    admin.acl_deluser(name)


def test_a_redis_that_refuses_scripts_still_throttles(
    redis_refusing_scripts, settings, user, items, caplog
):
    set_rates(settings, user="2/minute")
    client = client_for(user, token=True)
    with caplog.at_level(logging.WARNING, logger="recommender"):
        answers = [client.get("/api/items/").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert "refused the throttle's script" in caplog.text
