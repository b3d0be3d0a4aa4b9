"""Privacy in the admin: forget a user, export a user's data. Both audited by the services.

``forget_users`` and ``export_users`` are plain admin actions over a queryset of users, so a host
site can add them to its own user admin: ``actions = [forget_users, export_users]``.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import Impression, Interaction
from .base import post_only, require

__all__ = [
    "MAX_USERS_PER_ACTION",
    "find_user",
    "forget_users",
    "export_users",
    "forget_view",
    "export_view",
]

# Actions over more users are refused: each forget is its own audited transaction.
MAX_USERS_PER_ACTION = 100


def find_user(query: str):
    """The user whose primary key or login name (USERNAME_FIELD, any case) is ``query``."""
    User = get_user_model()
    query = (query or "").strip()
    if not query:
        return None
    found = User._default_manager.filter(**{f"{User.USERNAME_FIELD}__iexact": query}).first()
    if found is not None:
        return found
    try:
        pk = User._meta.pk.to_python(query)
    except (ValidationError, ValueError, TypeError):
        return None
    return User._default_manager.filter(pk=pk).first()


def _download(data, filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, indent=2, default=str), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _confirm(modeladmin, request, users, *, action_url: str = "", selected=()):
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": _("Forget these users?"),
        "users": users,
        "action_url": action_url,
        "selected": selected,
        "action_name": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "interactions": Interaction.objects.filter(user__in=users).count(),
        "impressions": Impression.objects.filter(user__in=users).count(),
    }
    return TemplateResponse(request, "admin/recommender/forget_confirmation.html", context)


def _forget(request, users) -> dict[str, int]:
    totals: dict[str, int] = {}
    for user in users:
        for kind, n in services.forget_user(user, actor=request.user).items():
            totals[kind] = totals.get(kind, 0) + n
    return totals


def _too_many(modeladmin, request, users) -> bool:
    if len(users) <= MAX_USERS_PER_ACTION:
        return False
    modeladmin.message_user(
        request, _(f"Select at most {MAX_USERS_PER_ACTION} users."), messages.ERROR
    )
    return True


@admin.action(description=_("Forget these users' recommendation data (audited)"))
def forget_users(modeladmin, request, queryset):
    """Delete the users' interactions, tracked lists and cached lists, after a confirmation."""
    users = list(queryset[: MAX_USERS_PER_ACTION + 1])
    if _too_many(modeladmin, request, users):
        return None
    if request.POST.get("confirm") != "yes":
        return _confirm(
            modeladmin, request, users, selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        )
    totals = _forget(request, users)
    modeladmin.message_user(request, _(f"Forgot {len(users)} users: {totals}."), messages.SUCCESS)
    return None


@admin.action(description=_("Export these users' recommendation data as JSON (audited)"))
def export_users(modeladmin, request, queryset):
    users = list(queryset[: MAX_USERS_PER_ACTION + 1])
    if _too_many(modeladmin, request, users):
        return None
    data = [services.export_user_data(user, actor=request.user) for user in users]
    return _download(data[0] if len(data) == 1 else data, "recommender-export.json")


def forget_view(modeladmin, request, user_id):
    """Confirm (GET), then forget one user (POST); needs the delete permission on interactions."""
    require(modeladmin.has_delete_permission(request))
    user = get_object_or_404(get_user_model()._default_manager, pk=user_id)
    if request.method != "POST":
        return _confirm(modeladmin, request, [user], action_url=request.path)
    totals = _forget(request, [user])
    modeladmin.message_user(request, _(f"Forgot {user}: {totals}."), messages.SUCCESS)
    preview = reverse("admin:recommender_preview")
    return HttpResponseRedirect(f"{preview}?user={user.pk}")


def export_view(modeladmin, request, user_id):
    """Download one user's data as JSON (POST, since every export is written to the audit log)."""
    refused = post_only(request)
    if refused:
        return refused
    require(modeladmin.has_view_permission(request))
    user = get_object_or_404(get_user_model()._default_manager, pk=user_id)
    data = services.export_user_data(user, actor=request.user)
    return _download(data, f"recommender-user-{user.pk}.json")
