"""Pages of the demo site; they use only the recommender app's public surfaces."""

from django.shortcuts import render

from recommender.models import Item


def home(request):
    items = Item.objects.active().order_by("-created_at")[:24]
    return render(request, "home.html", {"items": items})
