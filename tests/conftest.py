"""Shared fixtures: users of the custom user model and a small generated catalogue."""

import os
import uuid

import pytest
from django.contrib.auth import get_user_model

from recommender.models import Category, Item


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty in-process cache: throttle counts, popular lists or rule
    tables of an earlier test name rows that no longer exist (PostgreSQL does not reuse ids).
    The Redis alias is left alone: integration tests manage it (it is the worker's broker)."""
    from django.core.cache import caches

    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("ann@example.com", "pw-ann-123")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob@example.com", "pw-bob-123")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("staff@example.com", "pw-staff-123")


@pytest.fixture
def as_user(user):
    """An API client signed in as ``user``."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def items(db):
    """Ten items in two categories: i0..i4 are 'books', i5..i9 are 'music'."""
    books = Category.objects.create(name="Books")
    music = Category.objects.create(name="Music")
    made = []
    for n in range(10):
        item = Item.objects.create(
            external_id=f"i{n}", title=f"Item {n}", description=("a book" if n < 5 else "an album")
        )
        item.categories.add(books if n < 5 else music)
        made.append(item)
    return made


@pytest.fixture
def planted(db):
    """A site with planted tastes: 40 users, 3 categories of 12 items; each user views and buys
    mostly in one category. Returns {"users": [...], "items": {category: [Item, ...]},
    "taste": {user.pk: category}}."""
    from datetime import timedelta

    from django.utils import timezone

    from recommender.models import Interaction

    rng = __import__("random").Random(7)
    User = get_user_model()
    cats = {name: Category.objects.create(name=name) for name in ("Books", "Music", "Games")}
    words = {
        "Books": "novel story author chapter",
        "Music": "album song band guitar",
        "Games": "console level player quest",
    }
    items = {}
    for name, cat in cats.items():
        items[name] = []
        for n in range(12):
            item = Item.objects.create(
                external_id=f"{name.lower()}-{n}", title=f"{name[:-1]} {n}", description=words[name]
            )
            item.categories.add(cat)
            items[name].append(item)
    users, taste, rows = [], {}, []
    start = timezone.now() - timedelta(days=30)
    for u in range(40):
        user = User.objects.create_user(f"user{u}@example.com", "pw")
        favourite = list(cats)[u % 3]
        users.append(user)
        taste[user.pk] = favourite
        # Each user touches 8 of the 12 items of their category, plus one stray item.
        picks = rng.sample(items[favourite], 8) + [rng.choice(items[list(cats)[(u + 1) % 3]])]
        for n, item in enumerate(picks):
            rows.append(
                Interaction(
                    user=user,
                    item=item,
                    event_type=rng.choice(["view", "view", "click", "purchase"]),
                    timestamp=start + timedelta(hours=u * 5 + n),
                )
            )
    Interaction.objects.bulk_create(rows)
    return {"users": users, "items": items, "taste": taste, "categories": cats}


@pytest.fixture
def trained_version(planted, settings, tmp_path):
    """The planted site with a trained, active version (item-item EASE: fast, no TensorFlow)."""
    from recommender import services

    settings.MEDIA_ROOT = tmp_path
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "BACKEND": "recommender.ml.baselines.EASERecommender",
        "BACKEND_PARAMS": {"l2": 10.0},
    }
    version = services.train()
    assert version.status == "ready", version.error
    assert version.is_active, version.note
    return version


def require_redis() -> str:
    """REDIS_URL; a test that needs it is skipped without it, and fails under CI."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        message = (
            "needs a real Redis: set REDIS_URL, for example redis://127.0.0.1:6379/15 "
            "(make test does)"
        )
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def real_redis(settings):
    """The recommender's cache on the machine's Redis (the "shared" alias) under a key prefix
    of this test only, so concurrent runs never see each other's keys; emptied afterwards."""
    from django.core.cache import caches

    url = require_redis()
    prefix = f"recommender-tests-{uuid.uuid4().hex[:10]}"
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
    try:
        caches["shared"].client.get_client().ping()
    except Exception as exc:
        pytest.fail(f"Redis at {url} does not answer ({exc}); start it or fix REDIS_URL")
    yield {"url": url, "prefix": prefix}
    # A test may have pointed the alias elsewhere (a cache outage): empty the prefix directly.
    from django_redis.cache import RedisCache

    RedisCache(url, {"KEY_PREFIX": prefix}).delete_pattern("*")


def plant_lists(version_id, user, external_ids):
    """Write ``user``'s cached list of ``version_id`` as a refresh would: the items in the given
    order with falling scores, and point readers at the version. Returns ``external_ids``."""
    from recommender import cache

    pks = dict(Item.objects.by_external_ids(external_ids).values_list("external_id", "pk"))
    entries = [(pks[e], 1.0 - n / 100) for n, e in enumerate(external_ids)]
    assert cache.set_lists(version_id, {user.pk: entries})
    assert cache.set_current_version(version_id)
    return external_ids
