"""The refresh services in one process: batched scoring equals fold-in, versioned writes, the
pointer switch, single-user refreshes, retiring versions and the retraining trigger."""

from datetime import timedelta

import pytest
from django.utils import timezone

from recommender import cache, refresh, services
from recommender.models import Interaction, ModelVersion
from recommender.serving import load_scorer, score_user

pytestmark = pytest.mark.django_db


def _all_lists(version, users):
    return {u.pk: cache.get_list(version.pk, u.pk) for u in users}


def test_batched_scoring_equals_fold_in_for_every_user(trained_version, planted):
    users = planted["users"]
    # Make histories richer than the fixture's: a rating, a dislike and repeated events.
    ann, bob = users[0], users[1]
    top = score_user(load_scorer(trained_version), ann.pk, 3)
    services.record_interaction(ann, _item(top[0][0]), "dislike")
    services.record_interaction(ann, _item(top[1][0]), "rating", value=5)
    services.record_interaction(bob, _item(top[2][0]), "rating", value=1)  # below the midpoint
    seen = Interaction.objects.filter(user=bob).first().item
    services.record_interaction(bob, seen, "view")

    scorer = load_scorer(trained_version)
    batch = refresh.load_histories([u.pk for u in users], scorer)
    ranked = refresh.rank_histories(scorer, batch, 10)

    assert set(ranked) == {u.pk for u in users}
    for user in users:
        expected = score_user(scorer, user.pk, 10)
        assert [pk for pk, _ in ranked[user.pk]] == [pk for pk, _ in expected], user
        assert [s for _, s in ranked[user.pk]] == pytest.approx([s for _, s in expected], rel=1e-5)
    assert top[0][0] not in dict(ranked[ann.pk])  # disliked, never recommended


def _item(pk):
    from recommender.models import Item

    return Item.objects.get(pk=pk)


def test_users_without_positive_history_are_left_out(trained_version, planted, user):
    scorer = load_scorer(trained_version)
    only_disliked = planted["users"][0]
    Interaction.objects.filter(user=only_disliked).update(event_type="dislike")
    batch = refresh.load_histories([only_disliked.pk, user.pk, planted["users"][1].pk], scorer)
    assert batch.user_ids == [planted["users"][1].pk]
    assert refresh.rank_histories(scorer, refresh.load_histories([user.pk], scorer), 5) == {}


def test_full_refresh_writes_every_list_before_switching(trained_version, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "REFRESH_CHUNK_SIZE": 7}
    users = planted["users"]
    chunks = refresh.plan_refresh(trained_version.pk)
    assert [len(c) for c in chunks] == [7, 7, 7, 7, 7, 5]
    assert sorted(pk for c in chunks for pk in c) == sorted(u.pk for u in users)

    for chunk in chunks:
        assert refresh.score_chunk(trained_version.pk, chunk) == len(chunk)
        assert cache.get_current_version() is None  # readers keep the old lists meanwhile
    assert refresh.switch_lists(trained_version.pk) is True
    assert cache.get_current_version() == trained_version.pk

    for user in users:
        stored = cache.get_list(trained_version.pk, user.pk)
        assert stored["version"] == trained_version.pk
        seen = Interaction.objects.filter(user=user).values("item").distinct().count()
        assert len(stored["items"]) == 36 - seen
        answer = services.recommend_for_user(user, limit=5)
        assert answer.source == "cached" and answer.version_id == trained_version.pk
        computed = score_user(load_scorer(trained_version), user.pk, 5)
        assert [r.item.pk for r in answer] == [pk for pk, _ in computed]


def test_lists_are_as_long_as_list_length(trained_version, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "LIST_LENGTH": 4}
    assert refresh.refresh_all(trained_version.pk) == len(planted["users"])
    assert {len(v["items"]) for v in _all_lists(trained_version, planted["users"]).values()} == {4}


def test_switch_refuses_a_version_that_is_no_longer_active(trained_version, planted):
    newer = services.train()
    assert newer.is_active
    refresh.refresh_all(trained_version.pk)  # e.g. a refresh that finished after a retrain
    assert cache.get_current_version() is None
    refresh.refresh_all(newer.pk)
    assert cache.get_current_version() == newer.pk


def test_refresh_of_a_version_that_cannot_serve_does_nothing(trained_version, planted):
    failed = ModelVersion.objects.create(algorithm="x", status="failed")
    assert refresh.plan_refresh(failed.pk) is None
    assert refresh.refresh_all(failed.pk) == 0
    assert refresh.score_chunk(failed.pk, [planted["users"][0].pk]) == 0


def test_refresh_user_drops_a_bought_item_and_rescores(trained_version, planted):
    refresh.refresh_all(trained_version.pk)
    user = planted["users"][0]
    before = cache.get_list(trained_version.pk, user.pk)["items"]
    bought = _item(before[0][0])
    services.record_interaction(user, bought, "purchase")
    assert cache.get_list(trained_version.pk, user.pk)["items"] == before  # not yet refreshed

    assert refresh.refresh_user(user.pk) == 1
    after = cache.get_list(trained_version.pk, user.pk)["items"]
    assert bought.pk not in dict(after)
    assert after == [tuple(p) for p in score_user(load_scorer(trained_version), user.pk, 100)]
    assert after != before[1:]  # the purchase changed the scores, not only removed one item


def test_refresh_user_writes_the_version_of_a_refresh_in_progress(trained_version, planted):
    refresh.refresh_all(trained_version.pk)
    newer = services.train()
    refresh.plan_refresh(newer.pk)  # fan-out started, pointer still on the old version
    user = planted["users"][3]
    assert refresh.refresh_user(user.pk) == 2
    assert cache.get_list(newer.pk, user.pk)["version"] == newer.pk
    assert cache.get_list(trained_version.pk, user.pk)["version"] == trained_version.pk
    refresh.switch_lists(newer.pk)
    assert refresh.refresh_user(user.pk) == 1  # nothing in progress any more


def test_refresh_user_before_any_full_refresh_uses_the_active_version(trained_version, planted):
    user = planted["users"][5]
    assert cache.get_current_version() is None
    assert refresh.refresh_user(user.pk) == 1
    assert cache.get_list(trained_version.pk, user.pk) is not None


def test_refresh_user_without_history_drops_their_list(trained_version, planted):
    refresh.refresh_all(trained_version.pk)
    user = planted["users"][2]
    Interaction.objects.filter(user=user).delete()
    assert refresh.refresh_user(user.pk) == 0
    assert cache.get_list(trained_version.pk, user.pk) is None
    assert services.recommend_for_user(user).source == "popular"


def test_refresh_without_any_version_does_nothing(user, items):
    services.record_interaction(user, items[0], "view")
    assert refresh.refresh_user(user.pk) == 0


def test_refresh_users_rescores_many_users_in_one_pass(trained_version, planted):
    refresh.refresh_all(trained_version.pk)
    users = planted["users"][:6]
    for user in users:
        services.record_interaction(user, planted["items"]["Games"][1], "purchase")
    Interaction.objects.filter(user=users[5]).delete()
    # Ids as a task's JSON may carry them: strings.
    assert refresh.refresh_users([str(u.pk) for u in users]) == 5
    scorer = load_scorer(trained_version)
    for user in users[:5]:
        expected = [tuple(p) for p in score_user(scorer, user.pk, 100)]
        assert cache.get_list(trained_version.pk, user.pk)["items"] == expected
    assert cache.get_list(trained_version.pk, users[5].pk) is None


def test_claims_for_many_users_at_once(user, other_user, staff):
    assert refresh.claim_refreshes([user.pk, other_user.pk, user.pk]) == [user.pk, other_user.pk]
    assert refresh.claim_refreshes([user.pk, staff.pk]) == [staff.pk]
    refresh.release_refreshes([user.pk, staff.pk])
    assert refresh.claim_refreshes([staff.pk, other_user.pk, user.pk]) == [staff.pk, user.pk]


@pytest.mark.integration
def test_claims_for_many_users_in_one_redis_round_trip(user, other_user, staff, redis_cache):
    assert refresh.claim_refreshes([user.pk, other_user.pk]) == [user.pk, other_user.pk]
    assert refresh.claim_refreshes([user.pk, staff.pk]) == [staff.pk]
    keys = redis_cache.keys("recommender:refresh-due:*")
    assert len(keys) == 3
    assert 0 < redis_cache.ttl(keys[0]) <= 31


def test_a_burst_of_events_claims_one_refresh(user):
    assert refresh.claim_refresh(user.pk) is True
    assert refresh.claim_refresh(user.pk) is False
    assert refresh.claim_refresh(user.pk) is False
    refresh.refresh_user(user.pk)  # starting the refresh frees the claim for later events
    assert refresh.claim_refresh(user.pk) is True
    refresh.release_refresh(user.pk)
    assert refresh.claim_refresh(user.pk) is True


def test_a_failed_write_raises_so_the_task_retries(trained_version, planted, settings):
    from tests.workers.conftest import cache_down

    cache_down(settings)
    with pytest.raises(cache.CacheUnavailable):
        refresh.score_chunk(trained_version.pk, [planted["users"][0].pk])
    with pytest.raises(cache.CacheUnavailable):
        refresh.refresh_user(planted["users"][0].pk)
    with pytest.raises(cache.CacheUnavailable):
        refresh.switch_lists(trained_version.pk)


# -- retiring -------------------------------------------------------------------------------


def _ready_versions(n, trained_version):
    made = []
    for _ in range(n):
        made.append(services.train())
    return [trained_version, *made]


def test_retire_keeps_the_newest_and_every_version_still_in_use(trained_version, planted):
    versions = _ready_versions(4, trained_version)  # 5 ready; the newest is active
    assert ModelVersion.objects.active().get() == versions[-1]
    cache.set_current_version(versions[1].pk)  # readers still on an older one
    refresh.score_chunk(versions[0].pk, [planted["users"][0].pk])
    files = [v.artifact.name for v in versions]

    retired = refresh.retire_old_versions(keep=2)

    assert sorted(retired) == [versions[0].pk, versions[2].pk]
    storage = versions[0].artifact.storage
    for v in versions:
        v.refresh_from_db()
    assert [v.status for v in versions] == ["retired", "ready", "retired", "ready", "ready"]
    assert not storage.exists(files[0]) and not storage.exists(files[2])
    assert storage.exists(files[1]) and storage.exists(files[4])
    assert "Retired" in versions[0].note and not versions[0].artifact
    with pytest.raises(services.NotActivatable):
        services.activate(versions[0])
    assert refresh.retire_old_versions(keep=2) == []


@pytest.mark.integration
def test_retire_deletes_cached_lists_where_the_cache_can_match_keys(
    trained_version, planted, redis_cache
):
    users = planted["users"]
    refresh.refresh_all(trained_version.pk)
    newer = services.train()
    refresh.refresh_all(newer.pk)
    assert cache.get_list(trained_version.pk, users[0].pk) is not None
    assert refresh.retire_old_versions(keep=1) == [trained_version.pk]
    assert all(cache.get_list(trained_version.pk, u.pk) is None for u in users)
    assert all(cache.get_list(newer.pk, u.pk) is not None for u in users)


# -- the retraining trigger -----------------------------------------------------------------


def _add_events(user, items, n, when=None):
    rows = [
        Interaction(
            user=user,
            item=items[i % len(items)],
            event_type="view",
            timestamp=when or timezone.now(),
        )
        for i in range(n)
    ]
    Interaction.objects.bulk_create(rows)


def test_retrain_is_due_after_enough_new_interactions(trained_version, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "RETRAIN_AFTER_INTERACTIONS": 5}
    user, items = planted["users"][0], planted["items"]["Books"]
    old = trained_version.trained_through - timedelta(minutes=1)
    _add_events(user, items, 10, when=old)  # late arrivals of old events do not count
    assert refresh.retrain_due() is None
    _add_events(user, items, 4)
    assert refresh.retrain_due() is None
    _add_events(user, items, 1)
    queued = refresh.retrain_due()
    assert queued.status == "queued" and queued.slot == "default"
    assert refresh.retrain_due() is None  # one run queued is enough

    queued.created_at = timezone.now() - timedelta(days=1)  # ...unless its task was lost
    queued.save()
    assert refresh.retrain_due() is not None


def test_retrain_trigger_can_be_switched_off(trained_version, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "RETRAIN_AFTER_INTERACTIONS": 0}
    _add_events(planted["users"][0], planted["items"]["Books"], 50)
    assert refresh.retrain_due() is None


def test_retrain_without_an_active_version_counts_every_interaction(user, items, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "RETRAIN_AFTER_INTERACTIONS": 3}
    _add_events(user, items, 2)
    assert refresh.retrain_due() is None
    _add_events(user, items, 1)
    assert refresh.retrain_due() is not None


@pytest.mark.integration
def test_claims_still_work_where_redis_refuses_scripts(user, staff, redis_cache, monkeypatch):
    """A managed Redis without EVAL: the claims fall back to one pipelined SET NX per key."""
    from redis import Redis
    from redis.exceptions import ResponseError

    from recommender import cache as app_cache

    def refuse(self, *args, **kwargs):
        raise ResponseError("NOPERM this user has no permissions to run the 'eval' command")

    monkeypatch.setattr(Redis, "eval", refuse)
    assert refresh.claim_refreshes([user.pk, staff.pk]) == [user.pk, staff.pk]
    assert refresh.claim_refreshes([user.pk, staff.pk]) == []
    assert 0 < redis_cache.ttl(f"recommender:refresh-due:{user.pk}") <= 31
    assert app_cache.add_values(["kept", "kept"], 1, None) == [True, False]
    assert redis_cache.ttl("recommender:kept") is None  # no expiry


def test_server_keys_follow_any_key_function():
    """Claims compute django-redis's key wrapping once, unless the key function does more
    than wrap the key (then each key goes through it)."""
    import hashlib

    from recommender.cache import _server_keys

    class Client:
        def __init__(self, key_func):
            self.make_key = key_func

    wrapping = Client(lambda key: f"site:1:{key}")
    assert _server_keys(wrapping, ["a", "b"]) == ["site:1:a", "site:1:b"]
    hashing = Client(lambda key: hashlib.md5(key.encode()).hexdigest())
    assert _server_keys(hashing, ["a", "b"]) == [
        hashlib.md5(b"a").hexdigest(),
        hashlib.md5(b"b").hexdigest(),
    ]
