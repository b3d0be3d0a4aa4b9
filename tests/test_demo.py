"""The demo command builds a shop with tastes, trains, and is safe to run twice."""

from io import StringIO

import pytest
from django.core.management import call_command

from recommender import services
from recommender.models import Interaction, Item, ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_backend(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "BACKEND": "recommender.ml.baselines.EASERecommender",
    }


def run(*args):
    out = StringIO()
    call_command("recommender_demo", *args, stdout=out)
    return out.getvalue()


def test_demo_builds_trains_and_reuses(fast_backend, django_user_model):
    out = run()
    assert "Created 168 items, 81 users" in out and "http://127.0.0.1:8000/" in out
    assert ModelVersion.objects.active().exists()
    counts = (Item.objects.count(), Interaction.objects.count())
    out = run()
    assert "reusing it" in out
    assert (Item.objects.count(), Interaction.objects.count()) == counts
    assert ModelVersion.objects.count() == 1
    demo = django_user_model.objects.get(email="demo@demo.example")
    assert demo.check_password("demo")
    recs = services.recommend_for_user(demo, limit=8)
    assert recs.source == "computed" and len(recs) == 8


def test_demo_reset_starts_over(fast_backend):
    run("--no-train")
    first = set(Item.objects.values_list("pk", flat=True))
    out = run("--reset", "--no-train")
    assert "Removed the previous demo data" in out
    assert Item.objects.count() == 168 and not first & set(
        Item.objects.values_list("pk", flat=True)
    )


def test_demo_refuses_a_dead_redis(fast_backend, settings, monkeypatch):
    from django.core.management import CommandError

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/0")
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6390/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2},
        },
    }
    with pytest.raises(CommandError, match="start it, or unset REDIS_URL"):
        run("--no-train")


def test_similar_items_of_the_demo_share_the_sub_genre(fast_backend):
    run()
    shares = []
    for item in Item.objects.order_by("pk")[::7]:
        similar = services.similar_items(item, limit=6)
        assert similar.source == "computed"
        same = [r.item.properties["subgenre"] == item.properties["subgenre"] for r in similar]
        shares.append(sum(same) / len(same))
    assert sum(shares) / len(shares) >= 0.7  # a random pick would share it about 1 in 12
