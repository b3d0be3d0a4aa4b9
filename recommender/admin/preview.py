"""The recommendation preview: what a given user is shown and why, and what a newcomer sees.

A preview is not an impression: nothing here is tracked, so it never counts in the rates.
"""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from .. import experiments, services
from ..models import Interaction, ModelVersion
from .base import require
from .privacy import find_user

__all__ = ["HISTORY_SHOWN", "LIST_LENGTH", "preview_view"]

HISTORY_SHOWN = 20
LIST_LENGTH = 10


def _user_context(user) -> dict:
    recommendations = services.recommend_for_user(user, limit=LIST_LENGTH)
    version = (
        ModelVersion.objects.filter(pk=recommendations.version_id).first()
        if recommendations.version_id
        else None
    )
    history = (
        Interaction.objects.for_user(user)
        .select_related("item")
        .order_by("-timestamp")[:HISTORY_SHOWN]
    )
    return {
        "subject": user,
        "history": history,
        "history_total": Interaction.objects.for_user(user).count(),
        "recommendations": recommendations,
        "explanations": services.explain_recommendations(user, recommendations),
        "version": version,
        "arm": experiments.arm_for(user.pk),
    }


def preview_view(model_admin, request):
    """GET ``?user=<id or login>``: that user's history, list and reasons; and a newcomer's list."""
    require(model_admin.has_view_permission(request))
    query = request.GET.get("user", "").strip()
    user = find_user(query)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Recommendation preview"),
        "query": query,
        "not_found": bool(query) and user is None,
        "newcomer": services.recommend_for_user(None, limit=LIST_LENGTH),
        "can_forget": model_admin.has_delete_permission(request),
    }
    if user is not None:
        context.update(_user_context(user))
    return TemplateResponse(request, "admin/recommender/preview.html", context)
