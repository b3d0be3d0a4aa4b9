"""Admin of what users did and were shown: interactions, tracked lists, the privacy audit log.

The interaction admin also hosts the recommendation preview and the per-user privacy views.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..models import AuditLog, Impression, Interaction, Item
from .base import LargeTableAdmin, admin_path
from .preview import preview_view
from .privacy import MAX_USERS_PER_ACTION, export_view, forget_users, forget_view

__all__ = ["InteractionAdmin", "ImpressionAdmin", "AuditLogAdmin"]


@admin.register(Interaction)
class InteractionAdmin(LargeTableAdmin):
    list_display = ["timestamp", "user", "event_type", "item", "value", "rec_id"]
    list_select_related = ["user", "item"]
    list_filter = ["event_type", "timestamp"]
    search_fields = ["rec_id__exact"]  # shows the search box; get_search_results searches
    search_help_text = _(
        "A list's rec_id or an item's external id, exactly; event:<id> finds an event by its "
        "event id."
    )
    date_hierarchy = "timestamp"
    raw_id_fields = ["user", "source_version"]
    autocomplete_fields = ["item"]
    readonly_fields = ["created_at"]
    ordering = ["-timestamp"]
    actions = ["forget_their_users"]

    def get_search_results(self, request, queryset, search_term):
        """Exact matches the indexes answer: on a table of 500,000 events, 0.1 ms against
        535 ms for Django's ``=`` search (``UPPER()`` of three columns through a join with the
        items, for every row). An event id has no index of its own (only with its user), so
        it is searched apart, when asked for: ``event:<id>``."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("event:"):
            return queryset.filter(event_id=term.removeprefix("event:").strip()), False
        items = list(Item.objects.filter(external_id=term).values_list("pk", flat=True))
        return queryset.filter(Q(rec_id=term) | Q(item_id__in=items)), False

    def get_urls(self):
        views = [
            admin_path(self, "preview/", lambda r: preview_view(self, r), "recommender_preview"),
            admin_path(
                self,
                "forget/<path:user_id>/",
                lambda r, user_id: forget_view(self, r, user_id),
                "recommender_forget_user",
            ),
            admin_path(
                self,
                "export/<path:user_id>/",
                lambda r, user_id: export_view(self, r, user_id),
                "recommender_export_user",
            ),
        ]
        return [*views, *super().get_urls()]

    @admin.action(
        description=_("Forget the users of the selected interactions (audited)"),
        permissions=["delete"],
    )
    def forget_their_users(self, request, queryset):
        user_ids = list(
            queryset.order_by()
            .values_list("user_id", flat=True)
            .distinct()[: MAX_USERS_PER_ACTION + 1]
        )
        users = get_user_model()._default_manager.filter(pk__in=user_ids).order_by("pk")
        return forget_users(self, request, users)


@admin.register(Impression)
class ImpressionAdmin(LargeTableAdmin):
    list_display = ["created_at", "rec_id", "user", "placement", "source", "model_version", "arm"]
    list_select_related = ["user", "model_version"]
    list_filter = ["placement", "source", "arm"]
    search_fields = ["rec_id__exact"]  # the unique index answers it; "=rec_id" read every row
    raw_id_fields = ["user", "model_version", "experiment"]
    date_hierarchy = "created_at"


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "subject"]
    list_select_related = ["actor"]
    list_filter = ["action"]
    search_fields = ["=subject"]
    readonly_fields = ["created_at", "actor", "action", "subject", "detail"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
