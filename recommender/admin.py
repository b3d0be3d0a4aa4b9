"""Admin for the catalogue, the interaction log and model versions, fit for large tables."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from . import registry
from .models import (
    AuditLog,
    Category,
    Experiment,
    Impression,
    Interaction,
    Item,
    ItemRule,
    ModelVersion,
)


class EstimatedCountPaginator(Paginator):
    """Avoids a full COUNT(*) of an unfiltered PostgreSQL table by reading the planner's estimate."""

    threshold = 100_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if not getattr(qs, "query", None) or qs.query.where or connections[qs.db].vendor != "postgresql":
            return super().count
        with connections[qs.db].cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
                           [qs.model._meta.db_table])
            row = cursor.fetchone()
        estimate = int(row[0]) if row else -1
        return estimate if estimate >= self.threshold else super().count


class LargeTableAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    search_fields = ["name", "slug"]
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class ItemRuleInline(admin.TabularInline):
    model = ItemRule
    extra = 0
    autocomplete_fields = ["category"]
    fields = ["action", "category", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]


@admin.register(Item)
class ItemAdmin(LargeTableAdmin):
    list_display = ["title", "external_id", "is_active", "updated_at"]
    list_filter = ["is_active", "categories"]
    search_fields = ["=external_id", "title"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["categories"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["activate_items", "deactivate_items"]
    inlines = [ItemRuleInline]
    fieldsets = [
        (None, {"fields": ["external_id", "title", "description", "categories", "url",
                           "is_active"]}),
        (_("More"), {"fields": ["properties", "content_type", "object_id",
                                "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def save_formset(self, request, form, formset, change):
        for obj in formset.save(commit=False):
            if isinstance(obj, ItemRule) and obj.created_by_id is None:
                obj.created_by = request.user
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()

    @admin.action(description=_("Activate selected items"), permissions=["change"])
    def activate_items(self, request, queryset):
        n = queryset.update(is_active=True)
        self.message_user(request, _(f"{n} items activated."), messages.SUCCESS)

    @admin.action(description=_("Deactivate selected items (never recommended)"),
                  permissions=["change"])
    def deactivate_items(self, request, queryset):
        n = queryset.update(is_active=False)
        self.message_user(request, _(f"{n} items deactivated."), messages.SUCCESS)


@admin.register(Interaction)
class InteractionAdmin(LargeTableAdmin):
    list_display = ["timestamp", "user", "event_type", "item", "value", "rec_id"]
    list_select_related = ["user", "item"]
    list_filter = ["event_type", "timestamp"]
    search_fields = ["=event_id", "=item__external_id", "=rec_id"]
    date_hierarchy = "timestamp"
    raw_id_fields = ["user", "source_version"]
    autocomplete_fields = ["item"]
    readonly_fields = ["created_at"]
    ordering = ["-timestamp"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "slot", "status", "is_active", "ndcg", "popularity_ndcg",
                    "n_interactions", "training_seconds", "created_at"]
    list_filter = ["status", "is_active", "slot"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["activate_version"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    @admin.display(description="NDCG@10")
    def ndcg(self, obj):
        value = (obj.metrics or {}).get("default", {}).get("ndcg@10")
        return f"{value:.4f}" if isinstance(value, float) else "–"

    @admin.display(description=_("popularity NDCG@10"))
    def popularity_ndcg(self, obj):
        value = (obj.metrics or {}).get("popularity", {}).get("ndcg@10")
        return f"{value:.4f}" if isinstance(value, float) else "–"

    @admin.action(description=_("Activate the selected version"), permissions=["change"])
    def activate_version(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version."), messages.ERROR)
            return
        try:
            version = registry.activate(queryset.get(), note=f"Activated by {request.user}.")
        except registry.NotActivatable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, _(f"{version} is now active."), messages.SUCCESS)


@admin.register(Impression)
class ImpressionAdmin(LargeTableAdmin):
    list_display = ["created_at", "rec_id", "user", "placement", "source", "model_version", "arm"]
    list_select_related = ["user", "model_version"]
    list_filter = ["placement", "source", "arm"]
    search_fields = ["=rec_id"]
    raw_id_fields = ["user", "model_version", "experiment"]
    date_hierarchy = "created_at"


@admin.register(ItemRule)
class ItemRuleAdmin(admin.ModelAdmin):
    list_display = ["item", "action", "category", "created_by", "created_at"]
    list_select_related = ["item", "category", "created_by"]
    list_filter = ["action", "category"]
    autocomplete_fields = ["item", "category"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "version_a", "version_b", "share_b", "started_at"]
    list_select_related = ["version_a", "version_b"]
    list_filter = ["status"]


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
