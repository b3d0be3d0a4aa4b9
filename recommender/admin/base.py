"""Shared pieces of the app's admin: cheap pagination of large tables and custom-view plumbing."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.http import HttpRequest, HttpResponseNotAllowed
from django.urls import path
from django.utils.functional import cached_property

__all__ = [
    "EstimatedCountPaginator",
    "LargeTableAdmin",
    "admin_path",
    "require",
    "post_only",
    "clamp_days",
]


class EstimatedCountPaginator(Paginator):
    """Counts a large unfiltered PostgreSQL table by the planner's estimate, not COUNT(*)."""

    threshold = 100_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if (
            not getattr(qs, "query", None)
            or qs.query.where
            or connections[qs.db].vendor != "postgresql"
        ):
            return super().count
        with connections[qs.db].cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
                [qs.model._meta.db_table],
            )
            row = cursor.fetchone()
        estimate = int(row[0]) if row else -1
        return estimate if estimate >= self.threshold else super().count


class LargeTableAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50


def admin_path(model_admin: admin.ModelAdmin, route: str, view: Callable, name: str):
    """A URL of a custom admin view: staff only (admin_view), named ``admin:<name>``."""
    return path(route, model_admin.admin_site.admin_view(view), name=name)


def require(allowed: bool) -> None:
    """Refuse a staff member who lacks the model permission the view needs (403)."""
    if not allowed:
        raise PermissionDenied


def post_only(request: HttpRequest) -> HttpResponseNotAllowed | None:
    """Actions that change state only answer POST (the admin's forms carry the CSRF token)."""
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def clamp_days(request: HttpRequest, default: int = 30) -> int:
    """The ``days`` query parameter of a dashboard, kept within 1..365."""
    try:
        days = int(request.GET.get("days", default))
    except ValueError:
        return default
    return max(1, min(days, 365))
