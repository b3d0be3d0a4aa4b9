"""The demo site's pages, built only on the app's tags, services and API."""

import re

import pytest
from django.test import Client

from recommender.models import Impression, Interaction

pytestmark = [pytest.mark.django_db, pytest.mark.urls("project.urls")]


@pytest.fixture
def shopper(trained_version, planted):
    client = Client()
    client.force_login(planted["users"][0])
    return client


def rec_ids(html):
    return re.findall(r'data-recommender-rec-id="(\w+)"', html)


def test_home_for_a_visitor_shows_popular_shelves(planted):
    html = Client().get("/").content.decode()
    assert "Popular right now" in html and "Popular in Books" in html and "For you" not in html
    assert Impression.objects.filter(rec_id__in=rec_ids(html)).count() == 4


def test_home_for_a_shopper_shows_their_picks_with_tracked_links(shopper, planted):
    html = shopper.get("/").content.decode()
    assert "For you" in html and "picked for you" in html
    first = rec_ids(html)[0]
    assert Impression.objects.get(rec_id=first).placement == "home:for-you"
    assert re.search(rf'href="/items/[\w-]+/\?rec_id={first}"', html)


def test_item_page_counts_a_view_credited_to_the_list_and_shows_similar(
    shopper, planted, trained_version
):
    user = planted["users"][0]
    home = shopper.get("/").content.decode()
    rec_id = rec_ids(home)[0]
    href = re.search(rf'href="(/items/([\w-]+)/\?rec_id={rec_id})"', home)
    html = shopper.get(href.group(1)).content.decode()
    assert "Similar items" in html and 'data-recommender-event="like"' in html
    view = Interaction.objects.get(user=user, rec_id=rec_id)
    assert (view.event_type, view.item.external_id) == ("view", href.group(2))
    assert view.source_version == trained_version


def test_event_buttons_work_without_javascript(shopper, planted):
    response = shopper.post("/items/books-3/event/", {"event_type": "like", "rec_id": ""})
    assert response.status_code == 302
    assert Interaction.objects.filter(
        user=planted["users"][0], item__external_id="books-3", event_type="like"
    ).exists()
    assert shopper.post("/items/books-3/event/", {"event_type": "hack"}).status_code == 302
    assert not Interaction.objects.filter(event_type="hack").exists()


def test_unknown_item_page_is_a_404(shopper):
    assert shopper.get("/items/nope/").status_code == 404


def test_category_page_uses_the_stock_widget(shopper, planted):
    html = shopper.get("/categories/music/").content.decode()
    assert 'class="recommender-widget"' in html and "Popular in Music" in html


def test_sign_in_offers_the_demo_shoppers(db, django_user_model):
    django_user_model.objects.create_user("shopper00@demo.example", "demo")
    html = Client().get("/login/").content.decode()
    assert 'value="shopper00@demo.example"' in html
    client = Client()
    response = client.post("/login/", {"username": "shopper00@demo.example", "password": "demo"})
    assert response.status_code == 302 and client.get("/").context["user"].is_authenticated


def test_odd_ids_on_demo_pages_are_refused_cleanly(shopper, planted):
    assert shopper.get("/items/%00/").status_code == 404
    response = shopper.get("/items/books-1/", {"rec_id": "x\x00y"})
    assert response.status_code == 200
    assert (
        Interaction.objects.get(
            user=planted["users"][0], item__external_id="books-1", event_type="view"
        ).rec_id
        == ""
    )
