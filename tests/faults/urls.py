"""URLs of the fault tests: the API, plus one page rendered with the app's template tags."""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

PAGE = """{% load recommender %}
{% recommended_items user limit=4 as mine %}{% popular_items limit=4 as top %}
<p id="mine">{{ mine.source }}:{% for r in mine %}{{ r.item.external_id }},{% endfor %}</p>
<p id="top">{{ top.source }}:{% for r in top %}{{ r.item.external_id }},{% endfor %}</p>
{% recommendations_widget user limit=3 %}"""


def page(request):
    return HttpResponse(engines["django"].from_string(PAGE).render({"user": request.user}, request))


urlpatterns = [
    path("page/", page),
    path("api/", include("recommender.api.urls")),
]
