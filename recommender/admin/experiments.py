"""A/B experiments in the admin: start one between two ready versions, read the per-arm results
with their confidence intervals and significance, end it by activating the chosen version.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .. import dashboard, services
from ..experiments import check_versions
from ..models import Experiment, ModelVersion
from . import charts
from .base import admin_path, post_only, require

__all__ = ["ExperimentForm", "ExperimentAdmin"]


class ExperimentForm(forms.ModelForm):
    """Only ready versions can take part; the services' own checks give the errors."""

    class Meta:
        model = Experiment
        fields = ["name", "version_a", "version_b", "share_b"]
        help_texts = {
            "version_a": _("Usually the active version (the control)."),
            "version_b": _("The challenger."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ready = ModelVersion.objects.ready().exclude(artifact="").order_by("-created_at")
        for name in ("version_a", "version_b"):
            if name in self.fields:  # absent (read-only) once the experiment started
                self.fields[name].queryset = ready

    def clean(self):
        data = super().clean()
        running = Experiment.objects.filter(status=Experiment.Status.RUNNING).first()
        if self.instance.pk is None and running is not None:
            raise forms.ValidationError(_(f"{running} is still running; end it first."))
        a, b, share = data.get("version_a"), data.get("version_b"), data.get("share_b")
        if a is not None and b is not None and share is not None:
            try:
                check_versions(a, b, share)
            except services.ExperimentError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    list_display = [
        "name",
        "status",
        "version_a",
        "version_b",
        "share_b",
        "winner",
        "started_at",
        "ended_at",
    ]
    list_select_related = ["version_a", "version_b", "winner"]
    list_filter = ["status"]

    def get_readonly_fields(self, request, obj=None):
        # Changing the versions or the share of a started experiment would mix two experiments.
        if obj is None:
            return []
        return [
            "name",
            "version_a",
            "version_b",
            "share_b",
            "status",
            "winner",
            "started_at",
            "ended_at",
        ]

    def get_urls(self):
        end = admin_path(self, "<path:object_id>/end/", self.end_view, "recommender_experiment_end")
        return [end, *super().get_urls()]

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is editable once started
        started = services.start_experiment(
            obj.name, obj.version_a, obj.version_b, share_b=obj.share_b
        )
        obj.pk, obj.started_at, obj.status = started.pk, started.started_at, started.status
        obj._state.adding = False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        experiment = self.get_object(request, object_id)
        extra = {"can_change": self.has_change_permission(request, experiment)}
        if experiment is not None:
            result = dashboard.experiment_results(experiment)
            extra.update(
                result=result, charts=[charts.arms_chart(result.arms)], alpha=dashboard.ALPHA
            )
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def end_view(self, request, object_id):
        """POST ``winner=a|b``: end the experiment and activate that arm's version."""
        refused = post_only(request)
        if refused:
            return refused
        experiment = get_object_or_404(
            Experiment.objects.select_related("version_a", "version_b"), pk=object_id
        )
        require(self.has_change_permission(request, experiment))
        winner = {"a": experiment.version_a, "b": experiment.version_b}.get(
            request.POST.get("winner", "")
        )
        if winner is None:
            self.message_user(request, _("Choose the winning arm (A or B)."), messages.ERROR)
        else:
            self._end(request, experiment, winner)
        return HttpResponseRedirect(
            reverse("admin:recommender_experiment_change", args=[experiment.pk])
        )

    def _end(self, request, experiment, winner) -> None:
        try:
            services.end_experiment(experiment, winner)
        except (services.ExperimentError, services.NotActivatable) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request, _(f"{experiment.name} ended; {winner} is now active."), messages.SUCCESS
            )
