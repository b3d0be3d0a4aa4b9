"""Shared fixtures: users of the custom user model and a small generated catalogue."""

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
