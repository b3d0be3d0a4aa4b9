"""A host's page with the widget, for the tracking tests (used with ``pytest.mark.urls``)."""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

PAGE = engines["django"].from_string(
    "{% load recommender %}<h1>Shop</h1>"
    '{% recommendations_widget user limit=3 title="For you" url_name="item" %}'
    '<div data-recommender-endpoint="/api/interactions/">'
    '<form method="post" action="/nowhere/" data-recommender-event="like" '
    'data-recommender-item="books-1"><button id="like">Like</button></form></div>'
)


def shop(request):
    return HttpResponse(PAGE.render({"user": request.user}, request))


def item(request, external_id):
    return HttpResponse(f"item {external_id}")


urlpatterns = [
    path("shop/", shop),
    path("items/<str:external_id>/", item, name="item"),
    path("api/", include("recommender.api.urls")),
]
