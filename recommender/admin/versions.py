"""Model versions in the admin: metrics next to the baseline, training curves, train, activate,
roll back; and the dashboard of the whole app, which hangs off this admin.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import dashboard, services
from ..models import ModelVersion
from . import charts
from .base import admin_path, clamp_days, post_only, require

__all__ = ["ModelVersionAdmin", "start_training"]

logger = logging.getLogger("recommender")


def start_training(version_id: int) -> None:
    """Hand a queued version to the training task (a worker; in-process when Celery is eager).

    If the task cannot even be enqueued, the version is marked failed with the reason, so it
    does not sit "queued" forever.
    """
    try:
        from .. import tasks

        tasks.train_model.delay(version_id)
    except Exception as exc:  # the broker is down, or the task raised while eager
        logger.exception("could not start training of model version %s", version_id)
        ModelVersion.objects.filter(pk=version_id, status=ModelVersion.Status.QUEUED).update(
            status=ModelVersion.Status.FAILED, error=f"Could not start training: {exc!r}"
        )


def _metric(obj: ModelVersion, name: str) -> str:
    metrics = obj.metrics or {}
    ours = metrics.get("default", {}).get(name)
    popular = metrics.get("popularity", {}).get(name)
    if not isinstance(ours, int | float):
        return "–"
    if not isinstance(popular, int | float):
        return f"{ours:.4f}"
    return format_html('{} <span class="quiet">/ {}</span>', f"{ours:.4f}", f"{popular:.4f}")


def _metric_rows(version: ModelVersion) -> list[tuple[str, float | None, float | None]]:
    """(metric, this version, popularity) for every numeric offline metric, for the detail page."""
    ours = (version.metrics or {}).get("default", {})
    popular = (version.metrics or {}).get("popularity", {})
    names = [k for k, v in ours.items() if isinstance(v, int | float) and k != "fit_seconds"]
    return [(name, ours.get(name), popular.get(name)) for name in names]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s"


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "status",
        "is_active",
        "algorithm_name",
        "data_counts",
        "ndcg",
        "recall",
        "coverage",
        "training_time",
        "created_at",
        "error_summary",
    ]
    list_filter = ["status", "is_active", "slot"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["activate_version"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        views = [
            admin_path(self, "dashboard/", self.dashboard_view, "recommender_dashboard"),
            admin_path(self, "train/", self.train_view, "recommender_modelversion_train"),
            admin_path(self, "rollback/", self.rollback_view, "recommender_modelversion_rollback"),
            admin_path(
                self,
                "<path:object_id>/activate/",
                self.activate_view,
                "recommender_modelversion_activate",
            ),
        ]
        return [*views, *super().get_urls()]

    # -- columns --------------------------------------------------------------------------

    @admin.display(description=_("algorithm"), ordering="algorithm")
    def algorithm_name(self, obj):
        return obj.algorithm.rsplit(".", 1)[-1]

    @admin.display(description=_("users / items / events"))
    def data_counts(self, obj):
        if obj.n_users is None:
            return "–"
        return f"{obj.n_users:,} / {obj.n_items:,} / {obj.n_interactions:,}"

    @admin.display(description=_("NDCG@10 / popularity"))
    def ndcg(self, obj):
        return _metric(obj, "ndcg@10")

    @admin.display(description=_("Recall@10 / popularity"))
    def recall(self, obj):
        return _metric(obj, "recall@10")

    @admin.display(description=_("Coverage@10 / popularity"))
    def coverage(self, obj):
        return _metric(obj, "coverage@10")

    @admin.display(description=_("training time"), ordering="training_seconds")
    def training_time(self, obj):
        return _duration(obj.training_seconds)

    @admin.display(description=_("error"))
    def error_summary(self, obj):
        lines = [line for line in obj.error.strip().splitlines() if line.strip()]
        return lines[-1][:120] if lines else ""

    # -- pages ----------------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        versions = dashboard.version_metrics()
        extra = {
            "charts": [charts.metrics_chart(versions)] if versions else [],
            "can_change": self.has_change_permission(request),
        }
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)
        extra = {"can_change": self.has_change_permission(request)}
        if version is not None:
            extra["charts"] = [charts.history_chart(version.history)] if version.history else []
            extra["in_progress"] = version.status in (
                ModelVersion.Status.QUEUED,
                ModelVersion.Status.TRAINING,
            )
            extra["version"] = version
            extra["metric_rows"] = _metric_rows(version)
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def dashboard_view(self, request):
        """Activity, coverage and the rates of tracked lists over the last ``days`` days."""
        require(self.has_view_permission(request))
        days = clamp_days(request)
        by_version = dashboard.rates_by_version(days)
        by_placement = dashboard.rates_by_placement(days)
        coverage = dashboard.catalogue_coverage(days)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Recommendations dashboard"),
            "days": days,
            "day_choices": [7, 30, 90, 365],
            "coverage": coverage,
            "active_users": dashboard.active_users(days),
            "by_version": by_version,
            "by_placement": by_placement,
            "charts": [
                charts.interactions_chart(dashboard.interactions_per_day(days)),
                charts.active_users_chart(dashboard.active_users_per_day(days)),
                charts.coverage_chart(coverage),
                charts.rates_chart(
                    "chart-rates-version",
                    "Click-through and conversion per model version",
                    by_version,
                ),
                charts.rates_chart(
                    "chart-rates-placement",
                    "Click-through and conversion per placement",
                    by_placement,
                ),
            ],
        }
        return TemplateResponse(request, "admin/recommender/dashboard.html", context)

    # -- actions --------------------------------------------------------------------------

    def train_view(self, request):
        """Queue a new version and hand it to a worker; the page of the version shows progress."""
        refused = post_only(request)
        if refused:
            return refused
        require(self.has_change_permission(request))
        version = services.enqueue_version()
        transaction.on_commit(lambda: start_training(version.pk))
        self.message_user(
            request, _(f"Version #{version.pk} is queued for training."), messages.SUCCESS
        )
        return HttpResponseRedirect(
            reverse("admin:recommender_modelversion_change", args=[version.pk])
        )

    def rollback_view(self, request):
        refused = post_only(request)
        if refused:
            return refused
        require(self.has_change_permission(request))
        try:
            version = services.rollback()
        except services.NotActivatable as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request, _(f"Rolled back: {version} is now active."), messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:recommender_modelversion_changelist"))

    def activate_view(self, request, object_id):
        refused = post_only(request)
        if refused:
            return refused
        require(self.has_change_permission(request))
        version = get_object_or_404(ModelVersion, pk=object_id)
        self._activate(request, version)
        return HttpResponseRedirect(
            reverse("admin:recommender_modelversion_change", args=[version.pk])
        )

    def _activate(self, request, version: ModelVersion) -> None:
        try:
            services.activate(version, note=f"Activated by {request.user}.")
        except services.NotActivatable as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, _(f"{version} is now active."), messages.SUCCESS)

    @admin.action(description=_("Activate the selected version"), permissions=["change"])
    def activate_version(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version."), messages.ERROR)
            return
        self._activate(request, queryset.get())
