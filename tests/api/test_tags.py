"""Template tags: lists in score order, anonymous visitors, the widget and its query count."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import engines
from django.test import RequestFactory

from recommender.models import Impression

pytestmark = pytest.mark.django_db


def render(source, **context):
    request = RequestFactory().get("/")
    request.user = context.get("user") or AnonymousUser()
    return engines["django"].from_string("{% load recommender %}" + source).render(context, request)


def test_recommended_items_keep_the_cached_order(planted, cached_lists, in_request):
    user = planted["users"][4]
    cached_lists(user, ["music-5", "games-1", "books-9", "music-0"])
    with in_request():
        out = render(
            "{% recommended_items user limit=3 as recs %}"
            "{% for r in recs %}{{ r.item.external_id }};{% endfor %}{{ recs.source }}",
            user=user,
        )
    assert out == "music-5;games-1;books-9;cached"


def test_anonymous_visitors_get_popular_items(planted, in_request):
    with in_request():
        out = render(
            "{% recommended_items user limit=4 as recs %}{{ recs.source }} {{ recs|length }}",
            user=AnonymousUser(),
        )
    assert out == "popular 4"


def test_similar_items_by_item_or_external_id(trained_version, planted, in_request):
    book = planted["items"]["Books"][0]
    with in_request():
        by_item = render(
            "{% similar_items item limit=4 as recs %}"
            "{% for r in recs %}{{ r.item.external_id }} {% endfor %}",
            item=book,
        )
        by_id = render(
            '{% similar_items "books-0" limit=4 as recs %}'
            "{% for r in recs %}{{ r.item.external_id }} {% endfor %}"
        )
        unknown = render('{% similar_items "nope" as recs %}[{{ recs|length }}]')
    assert by_item == by_id and "books-0" not in by_item.split()
    assert sum(e.startswith("books-") for e in by_item.split()) >= 3
    assert unknown == "[0]"


def test_popular_items_in_a_category(planted, in_request):
    with in_request():
        out = render(
            '{% popular_items limit=5 category="games" as recs %}'
            "{% for r in recs %}{{ r.item.external_id }} {% endfor %}"
        )
    got = out.split()
    assert len(got) == 5 and all(e.startswith("games-") for e in got)


def test_a_bad_limit_never_breaks_a_page(planted, in_request):
    with in_request():
        out = render(
            '{% popular_items limit="lots" as a %}{% popular_items limit=0 as b %}'
            "{% popular_items limit=100000 as c %}{{ a|length }} {{ b|length }} "
            "{{ c|length }}"
        )
    assert out == "10 1 36"


def test_tracked_filter_adds_the_rec_id_to_links():
    out = render('{{ url|tracked:"abc" }}', url="/p/1/?colour=red")
    assert out == "/p/1/?colour=red&amp;rec_id=abc"


def test_widget_renders_tracked_links_in_order(planted, cached_lists, in_request):
    user = planted["users"][5]
    cached_lists(user, ["games-2", "music-3", "books-4"])
    with in_request():
        html = render('{% recommendations_widget user limit=3 title="For you" %}', user=user)
        shown = Impression.objects.filter(user=user)
        assert not shown.exists(), "the impression is written when the request ends"
    (impression,) = shown
    assert impression.item_ids == ["games-2", "music-3", "books-4"]
    assert f'data-recommender-rec-id="{impression.rec_id}"' in html
    assert "For you" in html and "recommender/track.js" in html
    assert html.index("Game 2") < html.index("Musi 3") < html.index("Book 4")
    assert html.count("data-recommender-item=") == 0  # these items have no URL: no links


def test_widget_links_through_a_host_url_name(planted, cached_lists, in_request, settings):
    settings.ROOT_URLCONF = "tests.api.pages"
    user = planted["users"][5]
    cached_lists(user, ["games-2", "music-3"])
    with in_request():
        html = render('{% recommendations_widget user limit=2 url_name="item" %}', user=user)
    rec_id = Impression.objects.get(user=user).rec_id
    assert f'href="/items/games-2/?rec_id={rec_id}"' in html
    assert 'data-recommender-endpoint="/api/interactions/"' in html


def test_widget_needs_at_most_two_queries_when_the_list_is_cached(
    planted, cached_lists, in_request, django_assert_max_num_queries
):
    user = planted["users"][6]
    cached_lists(user, [f"books-{n}" for n in range(8)])
    source = "{% recommendations_widget user limit=8 %}"
    with in_request():
        render(source, user=user)  # warms the rule and experiment caches, as any page view does
    with in_request():
        with django_assert_max_num_queries(2):
            html = render(source, user=user)
    assert html.count("Book ") == 8
    assert Impression.objects.filter(user=user).count() == 2


def test_the_widget_template_can_be_overridden(planted, tmp_path, settings, in_request):
    (tmp_path / "recommender").mkdir()
    (tmp_path / "recommender" / "widget.html").write_text(
        "<ul>{% for e in entries %}<li>{{ e.rank }}:{{ e.item.external_id }}</li>{% endfor %}</ul>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    with in_request():
        html = render("{% recommendations_widget user limit=2 %}", user=AnonymousUser())
    assert html.startswith("<ul><li>1:") and html.count("<li>") == 2
