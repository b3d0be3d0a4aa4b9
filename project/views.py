"""Pages of the demo site; they use only the recommender app's public surfaces.

The lists come from the template tags, events go through ``recommender.services`` (or the
API, from ``recommender/track.js``), so the demo is also a worked example for host sites.
"""

import re

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from recommender import services
from recommender.models import Category, Item

BUTTON_EVENTS = {"like": "Liked", "add_to_cart": "Added to the cart", "purchase": "Bought"}
DEMO_PASSWORD = "demo"  # set by `manage.py recommender_demo` for its shoppers
REC_ID = re.compile(r"[\w-]{1,64}", re.ASCII)


def _active_item(external_id: str) -> Item:
    if "\x00" in external_id:  # PostgreSQL cannot even compare such text
        raise Http404("No such item.")
    return get_object_or_404(Item.objects.active(), external_id=external_id)


def _rec_id(raw: str) -> str:
    """The rec_id a link or a form carried, or "" when it is not one."""
    return raw if REC_ID.fullmatch(raw or "") else ""


def home(request):
    """'For you' (signed in), popular overall and popular in each category."""
    categories = Category.objects.filter(items__is_active=True).distinct()[:6]
    return render(request, "home.html", {"categories": categories})


def category(request, slug):
    """Popular in one category."""
    return render(request, "category.html", {"category": get_object_or_404(Category, slug=slug)})


def item(request, external_id):
    """One item, its event buttons and similar items; a visit counts as a view."""
    shown = _active_item(external_id)
    rec_id = _rec_id(request.GET.get("rec_id", ""))
    if request.user.is_authenticated:
        # rec_id arrives in the link of a tracked list, so the view is credited to that list.
        services.record_interaction(request.user, shown, "view", rec_id=rec_id)
    return render(request, "item.html", {"item": shown, "rec_id": rec_id, "buttons": BUTTON_EVENTS})


@require_POST
@login_required
def item_event(request, external_id):
    """The like/cart/buy buttons without JavaScript (track.js sends them to the API)."""
    shown = _active_item(external_id)
    event_type = request.POST.get("event_type", "")
    if event_type not in BUTTON_EVENTS:
        messages.error(request, "Unknown button.")
    else:
        try:
            services.record_interaction(
                request.user, shown, event_type, rec_id=_rec_id(request.POST.get("rec_id", ""))
            )
            messages.success(request, f"{BUTTON_EVENTS[event_type]}: {shown.title}.")
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
    return redirect("item", external_id=external_id)


class DemoLoginView(LoginView):
    """The sign-in form, with one-click buttons for the demo's shoppers (password 'demo')."""

    template_name = "registration/login.html"

    def get_context_data(self, **kwargs):
        User = get_user_model()
        field = User.USERNAME_FIELD
        names = ["demo@demo.example", "demo"] + [
            f"shopper{n:02d}{suffix}" for n in range(5) for suffix in ("@demo.example", "")
        ]
        found = set(User.objects.filter(**{f"{field}__in": names}).values_list(field, flat=True))
        demo_users = [n for n in names if n in found]
        return {
            **super().get_context_data(**kwargs),
            "demo_users": demo_users,
            "demo_password": DEMO_PASSWORD,
        }
