"""Admin of the catalogue and of merchandising: items, categories, pins and bans, similar items."""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import Category, Item, ItemRule
from .base import LargeTableAdmin, admin_path, require

__all__ = ["CategoryAdmin", "ItemRuleInline", "ItemAdmin", "ItemRuleAdmin"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    search_fields = ["name", "slug"]
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class ItemRuleInline(admin.TabularInline):
    """Pin the item to the top of lists, or ban it, in one category or (empty) everywhere.

    Saving invalidates the cached rules (a receiver on ItemRule), so the next list honours it.
    """

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
        (
            None,
            {"fields": ["external_id", "title", "description", "categories", "url", "is_active"]},
        ),
        (
            _("More"),
            {
                "fields": ["properties", "content_type", "object_id", "created_at", "updated_at"],
                "classes": ["collapse"],
            },
        ),
    ]

    def get_urls(self):
        similar = admin_path(
            self, "<path:object_id>/similar/", self.similar_view, "recommender_item_similar"
        )
        return [similar, *super().get_urls()]

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

    @admin.action(
        description=_("Deactivate selected items (never recommended)"), permissions=["change"]
    )
    def deactivate_items(self, request, queryset):
        n = queryset.update(is_active=False)
        self.message_user(request, _(f"{n} items deactivated."), messages.SUCCESS)

    def similar_view(self, request, object_id):
        """The items the active model finds most like this one (what item pages show)."""
        require(self.has_view_permission(request))
        item = get_object_or_404(Item.objects.prefetch_related("categories"), pk=object_id)
        similar = services.similar_items(item, limit=20)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _(f"Items similar to {item.title}"),
            "item": item,
            "similar": similar,
            "rules": item.rules.select_related("category"),
        }
        return TemplateResponse(request, "admin/recommender/similar.html", context)


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
