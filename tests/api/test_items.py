"""The catalogue endpoints: public reads, staff writes, similar and popular lists."""

import pytest

from recommender.models import Category, Impression, Item

pytestmark = pytest.mark.django_db


def test_list_is_paginated_and_shows_active_items_only(api, items, contract, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "PAGE_SIZE": 4}
    Item.objects.filter(external_id="i3").update(is_active=False)
    first = contract(api.get("/api/items/")).json()
    assert first["count"] == 9 and len(first["results"]) == 4 and first["next"]
    everything = api.get("/api/items/", {"page_size": 50}).json()["results"]
    assert "i3" not in {r["external_id"] for r in everything}
    assert everything[0]["categories"] == [{"slug": "books", "name": "Books"}]


def test_staff_see_inactive_items(as_staff, items):
    Item.objects.filter(external_id="i3").update(is_active=False)
    assert as_staff.get("/api/items/").json()["count"] == 10
    assert as_staff.get("/api/items/i3/").json()["is_active"] is False


def test_list_filters_by_category(api, items, contract):
    body = contract(api.get("/api/items/", {"category": "music"})).json()
    assert {r["external_id"] for r in body["results"]} == {f"i{n}" for n in range(5, 10)}
    bad = contract(api.get("/api/items/", {"category": "kites"}))
    assert bad.status_code == 400 and "kites" in bad.json()["category"][0]


def test_page_out_of_range_is_a_404(api, items):
    response = api.get("/api/items/", {"page": 99})
    assert response.status_code == 404 and "detail" in response.json()


def test_detail_and_unknown_item(api, items, contract):
    body = contract(api.get("/api/items/i2/")).json()
    assert (body["external_id"], body["title"], body["url"]) == ("i2", "Item 2", None)
    missing = contract(api.get("/api/items/nope/"))
    assert missing.status_code == 404 and missing.json()["detail"]


def test_inactive_item_is_hidden_from_the_public(api, items):
    Item.objects.filter(external_id="i2").update(is_active=False)
    assert api.get("/api/items/i2/").status_code == 404


def test_staff_create_an_item_with_new_and_known_categories(as_staff, items, contract):
    response = contract(
        as_staff.post(
            "/api/items/",
            {
                "external_id": "sku-1",
                "title": "Kite",
                "categories": ["Books", "Outdoors"],
                "url": "https://shop.example/kite",
                "properties": {"colour": "red"},
            },
            format="json",
        )
    )
    assert response.status_code == 201
    body = response.json()
    assert [c["slug"] for c in body["categories"]] == ["books", "outdoors"]
    item = Item.objects.get(external_id="sku-1")
    assert item.properties == {"colour": "red"} and item.url == "https://shop.example/kite"
    assert Category.objects.filter(name="Outdoors").exists()


def test_creating_a_duplicate_external_id_is_a_400_naming_it(as_staff, items, contract):
    response = contract(
        as_staff.post("/api/items/", {"external_id": "i1", "title": "Again"}, format="json")
    )
    assert response.status_code == 400 and "external_id" in response.json()
    assert Item.objects.filter(title="Again").count() == 0


def test_creating_without_a_title_is_a_400_naming_it(as_staff, contract):
    response = contract(as_staff.post("/api/items/", {"external_id": "x"}, format="json"))
    assert response.status_code == 400 and "title" in response.json()


def test_staff_update_and_delete(as_staff, items, contract):
    response = contract(
        as_staff.patch(
            "/api/items/i1/", {"title": "Renamed", "categories": ["Music"]}, format="json"
        )
    )
    assert response.status_code == 200
    assert [c["slug"] for c in response.json()["categories"]] == ["music"]
    assert Item.objects.get(external_id="i1").title == "Renamed"
    assert contract(as_staff.delete("/api/items/i1/")).status_code == 204
    assert not Item.objects.filter(external_id="i1").exists()


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_only_staff_change_the_catalogue(as_user, api, items, method, contract):
    url = "/api/items/" if method == "post" else "/api/items/i1/"
    for client in (as_user, api):
        response = contract(getattr(client, method)(url, {"title": "Hacked"}, format="json"))
        assert response.status_code in (401, 403)
    assert Item.objects.get(external_id="i1").title == "Item 1"


def test_similar_items_leave_out_the_item_and_are_tracked(api, trained_version, planted, contract):
    response = contract(api.get("/api/items/books-0/similar/", {"limit": 5}))
    body = response.json()
    got = [r["external_id"] for r in body["results"]]
    assert len(got) == 5 and "books-0" not in got
    assert sum(e.startswith("books-") for e in got) >= 4
    assert body["source"] == "computed" and body["model_version"] == trained_version.pk
    assert Impression.objects.get(rec_id=body["rec_id"]).placement == "api:similar"


def test_similar_items_of_an_unknown_item_is_a_404(api, items, contract):
    assert contract(api.get("/api/items/nope/similar/")).status_code == 404


def test_popular_items_in_a_category(api, planted, contract):
    body = contract(api.get("/api/items/popular/", {"category": "games", "limit": 4})).json()
    assert body["source"] == "popular" and len(body["results"]) == 4
    assert all(r["external_id"].startswith("games-") for r in body["results"])
    assert contract(api.get("/api/items/popular/", {"limit": 1000})).status_code == 400


@pytest.mark.parametrize("path", ["/api/items/%00/", "/api/items/a%00b/similar/"])
def test_a_nul_character_in_an_item_id_is_a_json_404(api, items, contract, path):
    response = contract(api.get(path))
    assert response.status_code == 404 and response.json()["external_id"]


@pytest.mark.parametrize("query", [{"category": "\x00"}, {"exclude": "i1\x00"}])
def test_a_nul_character_in_a_query_is_a_400(api, items, query):
    response = api.get("/api/items/popular/", query)
    assert response.status_code == 400 and list(query)[0] in response.json()
