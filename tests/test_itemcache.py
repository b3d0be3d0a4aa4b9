"""The items of served lists, kept by each process (recommender.itemcache): a list served again
costs no item query, and every catalogue write is seen by the next request, whether this
process made it or another one did (the generation token in the shared cache)."""

from __future__ import annotations

import re
import socket
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from recommender import cache, itemcache, services
from recommender.models import Category, Interaction, Item, ModelVersion
from tests.conftest import plant_lists
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db

URL = "/api/recommendations/"
DEAD_PORT = 6393  # nothing may listen here (as in tests/faults)
# The queries that load items or their categories (not the rule table's join on items).
ITEM_QUERY = re.compile(r'FROM "recommender_(item|category)"')


@pytest.fixture(autouse=True)
def empty_store():
    """Each test starts and ends with an empty store in this process."""
    itemcache.clear()
    yield
    itemcache.clear()


@pytest.fixture
def plant(db):
    """plant(user, external_ids): the user's cached list of a ready version, as a refresh
    writes it (the version needs no artifact: cached lists are served without one)."""
    version = ModelVersion.objects.create(algorithm="x.EASE", status="ready")

    return lambda user, external_ids: plant_lists(version.pk, user, external_ids)


@pytest.fixture
def cache_down(settings):
    """CACHES["down"]: django-redis on a closed port. Tests switch CACHE_ALIAS to it."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        assert probe.connect_ex(("127.0.0.1", DEAD_PORT)) != 0, f"{DEAD_PORT} is taken"
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{DEAD_PORT}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }

    def switch(down: bool) -> None:
        alias = "down" if down else "default"
        settings.RECOMMENDER = {**settings.RECOMMENDER, "CACHE_ALIAS": alias}

    return switch


def get(api, **query):
    """One request for the list; its body."""
    response = api.get(URL, query)
    assert response.status_code == 200
    return response.json()


def shown(body):
    return [r["external_id"] for r in body["results"]]


def titles(body):
    return {r["external_id"]: r["title"] for r in body["results"]}


def item_queries(captured) -> int:
    return sum(1 for q in captured.captured_queries if ITEM_QUERY.search(q["sql"]))


def raw_update(sql: str, params: list) -> None:
    """A write the app cannot see (no signals), as another application would make it."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# -- fewer queries ---------------------------------------------------------------------------


def test_a_list_served_again_costs_no_query(items, user, plant, django_assert_num_queries):
    plant(user, ["i3", "i1", "i7", "i5"])
    with CaptureQueriesContext(connection) as first:
        services.recommend_for_user(user, limit=3)
    assert item_queries(first) == 2  # the items, then their categories
    with django_assert_num_queries(0):
        again = services.recommend_for_user(user, limit=3)
    assert again.source == "cached"
    assert [r.external_id for r in again] == ["i3", "i1", "i7"]
    assert [r.item.title for r in again] == ["Item 3", "Item 1", "Item 7"]
    assert [[c.name for c in r.categories] for r in again] == [["Books"], ["Books"], ["Music"]]


def test_a_miss_loads_the_rest_of_the_list_for_later_requests(items, user, plant):
    plant(user, [f"i{n}" for n in range(10)])
    services.recommend_for_user(user, limit=1)
    with CaptureQueriesContext(connection) as longer:
        answer = services.recommend_for_user(user, limit=10)
    assert item_queries(longer) == 0
    assert [r.external_id for r in answer] == [f"i{n}" for n in range(10)]


def test_other_users_lists_of_the_same_items_cost_no_item_query(items, user, other_user, plant):
    plant(user, ["i0", "i1", "i2"])
    plant(other_user, ["i2", "i1", "i0"])
    services.recommend_for_user(user, limit=3)
    with CaptureQueriesContext(connection) as theirs:
        answer = services.recommend_for_user(other_user, limit=3)
    assert item_queries(theirs) == 0
    assert [r.external_id for r in answer] == ["i2", "i1", "i0"]


def test_a_store_of_size_0_reads_items_from_the_database_every_time(items, user, plant, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ITEM_CACHE_SIZE": 0}
    plant(user, ["i3", "i1", "i7"])
    for _ in range(3):
        with CaptureQueriesContext(connection) as served:
            answer = services.recommend_for_user(user, limit=3)
        assert item_queries(served) == 2
        assert [r.external_id for r in answer] == ["i3", "i1", "i7"]
    assert not itemcache._store.entries


def test_the_store_never_holds_more_than_ITEM_CACHE_SIZE_items(
    items, user, other_user, plant, settings
):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ITEM_CACHE_SIZE": 3}
    plant(user, [f"i{n}" for n in range(10)])
    plant(other_user, [f"i{n}" for n in reversed(range(10))])
    for limit in (1, 2, 5, 10):
        mine = services.recommend_for_user(user, limit=limit)
        assert len(itemcache._store.entries) <= 3
        theirs = services.recommend_for_user(other_user, limit=limit)
        assert len(itemcache._store.entries) <= 3
        assert [r.external_id for r in mine] == [f"i{n}" for n in range(limit)]
        assert [r.external_id for r in theirs] == [f"i{n}" for n in range(9, 9 - limit, -1)]
        assert [r.item.title for r in mine] == [f"Item {n}" for n in range(limit)]


def test_a_store_smaller_than_a_list_keeps_the_items_it_just_served(items, user, plant, settings):
    # A list of 10, served 2 at a time: the store loads the 7 candidates of the window and
    # prefetches the 3 others. With room for 8, the least recently used are the prefetched
    # tail, not the two items just served.
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ITEM_CACHE_SIZE": 8}
    plant(user, [f"i{n}" for n in range(10)])
    services.recommend_for_user(user, limit=2)
    with CaptureQueriesContext(connection) as again:
        answer = services.recommend_for_user(user, limit=2)
    assert [r.external_id for r in answer] == ["i0", "i1"]
    assert item_queries(again) == 0, "the items served a moment ago were evicted first"


def test_unknown_and_inactive_items_of_a_cached_list_are_skipped(items, user, plant):
    gone = Item.objects.create(external_id="gone", title="Gone")
    Item.objects.filter(external_id="i1").update(is_active=False)
    plant(user, ["i0", "gone", "i1", "i2"])
    gone.delete()
    assert [r.external_id for r in services.recommend_for_user(user, limit=3)] == ["i0", "i2"]
    with CaptureQueriesContext(connection) as again:  # the store remembers "gone" is gone
        answer = services.recommend_for_user(user, limit=3)
    assert [r.external_id for r in answer] == ["i0", "i2"] and item_queries(again) == 0


# -- writes through the app are seen by the next request -------------------------------------


def test_a_renamed_item_is_seen_by_the_next_request(items, user, plant, as_user):
    plant(user, ["i3", "i1"])
    assert titles(get(as_user)) == {"i3": "Item 3", "i1": "Item 1"}
    item = Item.objects.get(external_id="i3")
    item.title = "Item 3, second edition"
    item.save()
    assert titles(get(as_user)) == {"i3": "Item 3, second edition", "i1": "Item 1"}


@pytest.mark.parametrize(
    "rename",
    [
        lambda: Item.objects.filter(external_id="i3").update(title="Renamed"),
        lambda: Item.objects.bulk_update(
            [Item(pk=Item.objects.get(external_id="i3").pk, title="Renamed")], ["title"]
        ),
    ],
    ids=["queryset-update", "bulk-update"],
)
def test_a_bulk_rename_is_seen_by_the_next_request(items, user, plant, as_user, rename):
    plant(user, ["i3", "i1"])
    assert titles(get(as_user))["i3"] == "Item 3"
    rename()
    assert titles(get(as_user))["i3"] == "Renamed"


def test_a_renamed_host_object_is_seen_by_the_next_request(user, plant, as_user):
    lamp = Product.objects.create(name="Lamp", tags="Home")
    item = Item.objects.linked_to(lamp).get()
    plant(user, [item.external_id])
    assert titles(get(as_user)) == {item.external_id: "Lamp"}
    lamp.name = "Desk lamp"
    lamp.save()
    assert titles(get(as_user)) == {item.external_id: "Desk lamp"}


def test_an_item_deactivated_by_save_is_gone_from_the_next_request(items, user, plant, as_user):
    plant(user, ["i3", "i1", "i7"])
    assert shown(get(as_user)) == ["i3", "i1", "i7"]
    item = Item.objects.get(external_id="i1")
    item.is_active = False
    item.save()
    assert shown(get(as_user)) == ["i3", "i7"]


def test_an_item_deactivated_by_a_queryset_update_is_gone_from_the_next_request(
    items, user, plant, as_user
):
    plant(user, ["i3", "i1", "i7"])
    assert shown(get(as_user)) == ["i3", "i1", "i7"]
    Item.objects.filter(external_id__in=["i1", "i7"]).update(is_active=False)
    assert shown(get(as_user)) == ["i3"]
    Item.objects.filter(external_id="i7").update(is_active=True)
    assert shown(get(as_user)) == ["i3", "i7"]


def test_an_item_deactivated_by_the_admin_action_is_gone_from_the_next_request(
    items, user, staff, plant, as_user
):
    plant(user, ["i3", "i1", "i7"])
    assert shown(get(as_user)) == ["i3", "i1", "i7"]
    admin = Client()
    admin.force_login(staff)
    response = admin.post(
        "/admin/recommender/item/",
        {
            "action": "deactivate_items",
            "_selected_action": [Item.objects.get(external_id="i1").pk],
        },
    )
    assert response.status_code == 302
    assert not Item.objects.get(external_id="i1").is_active
    assert shown(get(as_user)) == ["i3", "i7"]


def test_a_deleted_item_is_gone_from_the_next_request(items, user, plant, as_user):
    plant(user, ["i3", "i1", "i7", "i5"])
    assert shown(get(as_user)) == ["i3", "i1", "i7", "i5"]
    Item.objects.get(external_id="i1").delete()
    assert shown(get(as_user)) == ["i3", "i7", "i5"]
    Item.objects.filter(external_id="i7").delete()
    assert shown(get(as_user)) == ["i3", "i5"]


def test_category_changes_are_followed_by_the_next_filtered_request(items, user, plant, as_user):
    plant(user, ["i3", "i7", "i1", "i5"])
    books, music = Category.objects.get(slug="books"), Category.objects.get(slug="music")
    assert shown(get(as_user, category="music", limit=2)) == ["i7", "i5"]
    i3 = Item.objects.get(external_id="i3")
    i3.categories.add(music)
    body = get(as_user, category="music", limit=3)
    assert shown(body) == ["i3", "i7", "i5"]
    assert [c["slug"] for c in body["results"][0]["categories"]] == ["books", "music"]
    i3.categories.remove(books)
    assert shown(get(as_user, category="books", limit=1)) == ["i1"]
    books.items.add(Item.objects.get(external_id="i5"))  # from the category's side
    assert shown(get(as_user, category="books", limit=2)) == ["i1", "i5"]
    i3.categories.clear()
    assert shown(get(as_user, category="music", limit=2)) == ["i7", "i5"]
    assert get(as_user, limit=1)["results"][0]["categories"] == []


def test_a_renamed_category_is_seen_by_the_next_request(items, user, plant, as_user):
    plant(user, ["i3", "i7"])
    body = get(as_user)
    assert [r["categories"][0]["name"] for r in body["results"]] == ["Books", "Music"]
    books = Category.objects.get(slug="books")
    books.name = "Novels"
    books.save()
    body = get(as_user)
    assert [r["categories"][0]["name"] for r in body["results"]] == ["Novels", "Music"]


def test_a_deleted_category_is_gone_from_the_next_request(items, user, plant, as_user):
    plant(user, ["i3", "i7"])
    assert len(get(as_user)["results"][0]["categories"]) == 1
    Category.objects.get(slug="books").delete()
    body = get(as_user)
    assert shown(body) == ["i3", "i7"] and body["results"][0]["categories"] == []


def test_a_category_renamed_by_a_queryset_update_is_seen_by_the_next_request(
    items, user, plant, as_user
):
    plant(user, ["i3"])
    assert get(as_user)["results"][0]["categories"][0]["name"] == "Books"
    Category.objects.filter(slug="books").update(name="Novels")
    assert get(as_user)["results"][0]["categories"][0]["name"] == "Novels"


# -- writes of other processes ---------------------------------------------------------------


def test_another_process_write_is_seen_once_the_token_moves(items, user, plant, as_user):
    plant(user, ["i3", "i1"])
    assert titles(get(as_user))["i3"] == "Item 3"
    raw_update("UPDATE recommender_item SET title = %s WHERE external_id = %s", ["Raw", "i3"])
    # Nothing told this process: its store still answers, without a query.
    assert titles(get(as_user))["i3"] == "Item 3"
    cache.set_value(itemcache.KEY, "another-process-committed", None)  # as its _bump does
    assert titles(get(as_user))["i3"] == "Raw"


def test_a_token_lost_from_the_cache_empties_the_store(items, user, plant, as_user):
    plant(user, ["i3"])
    assert titles(get(as_user))["i3"] == "Item 3"
    raw_update("UPDATE recommender_item SET title = %s WHERE external_id = %s", ["Raw", "i3"])
    cache.delete_value(itemcache.KEY)  # evicted, or the cache server restarted
    assert titles(get(as_user))["i3"] == "Raw"
    assert cache.get_value(itemcache.KEY) is not None


def test_an_unseen_write_is_seen_after_ITEM_CACHE_SECONDS(items, user, plant, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(itemcache, "time", SimpleNamespace(monotonic=lambda: now[0]))
    plant(user, ["i3"])

    def title():
        return services.recommend_for_user(user, limit=1).recommendations[0].item.title

    assert title() == "Item 3"
    raw_update("UPDATE recommender_item SET title = %s WHERE external_id = %s", ["Raw", "i3"])
    now[0] += 299  # ITEM_CACHE_SECONDS defaults to 300
    assert title() == "Item 3"
    now[0] += 2
    assert title() == "Raw"


def test_with_ITEM_CACHE_SECONDS_0_every_request_reads_the_items(items, user, plant, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ITEM_CACHE_SECONDS": 0}
    plant(user, ["i3"])
    assert services.recommend_for_user(user, limit=1).recommendations[0].item.title == "Item 3"
    raw_update("UPDATE recommender_item SET title = %s WHERE external_id = %s", ["Raw", "i3"])
    assert services.recommend_for_user(user, limit=1).recommendations[0].item.title == "Raw"


def test_a_raw_write_is_not_seen_before_the_token_moves_or_the_store_expires(
    items, user, plant, settings
):
    plant(user, ["i3", "i1"])
    services.recommend_for_user(user, limit=2)
    raw_update("UPDATE recommender_item SET is_active = %s WHERE external_id = %s", [False, "i3"])
    answer = services.recommend_for_user(user, limit=2)
    assert [r.external_id for r in answer] == ["i3", "i1"]  # stale, as documented
    settings.RECOMMENDER = {**settings.RECOMMENDER, "ITEM_CACHE_SECONDS": 0}
    assert [r.external_id for r in services.recommend_for_user(user, limit=2)] == ["i1"]


# -- the token moves once per committed transaction ------------------------------------------


@pytest.fixture
def token_moves(monkeypatch):
    """The values written under the catalogue's key, in order."""
    moves = []
    real = cache.set_value

    def spy(key, value, timeout):
        if key == itemcache.KEY:
            moves.append(value)
        return real(key, value, timeout)

    monkeypatch.setattr(cache, "set_value", spy)
    return moves


def test_many_writes_in_one_transaction_move_the_token_once(
    items, token_moves, django_capture_on_commit_callbacks
):
    before = itemcache.generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            for item in items[:3]:
                item.title += " (new)"
                item.save()
            Item.objects.filter(external_id="i4").update(is_active=False)
            items[5].categories.add(Category.objects.get(slug="books"))
            Category.objects.filter(slug="music").get().save()
            Item.objects.create(external_id="i10", title="Item 10")
            assert itemcache.generation() == before, "moved before the commit"
    assert len(callbacks) >= 7
    assert len(token_moves) == 1
    after = itemcache.generation()
    assert after == token_moves[0] and after != before


def test_each_committed_transaction_moves_the_token(
    items, token_moves, django_capture_on_commit_callbacks
):
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                items[n].title = "Changed"
                items[n].save()
                items[n].categories.clear()
    assert len(token_moves) == 2 and token_moves[0] != token_moves[1]


def test_a_rolled_back_transaction_does_not_move_the_token(
    items, token_moves, django_capture_on_commit_callbacks
):
    before = itemcache.generation()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            items[0].title = "Never"
            items[0].save()
            raise RuntimeError("rolled back")
    assert token_moves == [] and itemcache.generation() == before


def test_the_writer_empties_its_own_store_before_the_commit(items, user, plant):
    # Other processes wait for the commit; the writing process's own next read (inside the
    # transaction, or after it) must not see the old row.
    plant(user, ["i3"])
    services.recommend_for_user(user, limit=1)
    assert itemcache._store.entries
    with transaction.atomic():
        Item.objects.filter(external_id="i3").update(title="Inside")
        assert not itemcache._store.entries
        assert services.recommend_for_user(user, limit=1).recommendations[0].item.title == (
            "Inside"
        )


# -- the shared cache is down --------------------------------------------------------------------


def test_lists_are_served_from_the_database_while_the_cache_is_down(
    items, user, other_user, cache_down
):
    for n, item in enumerate(items[:4]):  # popularity: i0 most, then i1, i2, i3
        for _ in range(4 - n):
            Interaction.objects.create(user=other_user, item=item, event_type="view")
    cache_down(True)
    assert itemcache.generation() is None
    first = services.recommend_for_user(user, limit=3)
    assert first.source == "popular"
    assert [r.external_id for r in first] == ["i0", "i1", "i2"]
    assert [[c.name for c in r.categories] for r in first] == [["Books"]] * 3
    raw_update("UPDATE recommender_item SET title = %s WHERE external_id = %s", ["Raw", "i1"])
    with CaptureQueriesContext(connection) as served:
        again = services.recommend_for_user(user, limit=3)
    assert item_queries(served) == 2
    assert [r.item.title for r in again] == ["Item 0", "Raw", "Item 2"]
    assert not itemcache._store.entries


def test_a_write_made_while_the_cache_was_down_is_seen_when_it_is_back(
    items, user, other_user, plant, cache_down
):
    Interaction.objects.create(user=other_user, item=items[3], event_type="view")
    plant(user, ["i3", "i1"])
    assert services.recommend_for_user(user, limit=1).recommendations[0].item.title == "Item 3"
    cache_down(True)
    during = services.recommend_for_user(user, limit=1)  # served from the database
    assert during.source == "popular" and during.recommendations[0].item.title == "Item 3"
    # Another process renames the item now: its token move fails, as the cache is down.
    raw_update("UPDATE recommender_item SET title = %s WHERE external_id = %s", ["Raw", "i3"])
    cache_down(False)
    after = services.recommend_for_user(user, limit=1)
    assert after.source == "cached"
    assert after.recommendations[0].item.title == "Raw", "a store older than the outage served"


# -- a real Redis, as in production ----------------------------------------------------------


def test_through_redis_the_token_read_with_the_list_empties_the_store(
    items, user, plant, real_redis, django_assert_num_queries
):
    plant(user, ["i3", "i1"])
    services.recommend_for_user(user, limit=2)
    with django_assert_num_queries(0):
        assert services.recommend_for_user(user, limit=2).source == "cached"
    raw_update("UPDATE recommender_item SET title = %s WHERE external_id = %s", ["Raw", "i3"])
    cache.set_value(itemcache.KEY, "another-process-committed", None)
    answer = services.recommend_for_user(user, limit=2)
    assert [r.item.title for r in answer] == ["Raw", "Item 1"]
