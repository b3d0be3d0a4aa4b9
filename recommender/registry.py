"""The model registry: activating, rolling back and retiring trained versions."""

from __future__ import annotations

from django.db import transaction

from .models import ModelVersion
from .signals import model_activated

__all__ = ["active_version", "activate", "rollback", "NotActivatable"]


class NotActivatable(ValueError):
    """The version cannot serve (not ready, or no artifact)."""


def active_version(slot: str = "default") -> ModelVersion | None:
    return ModelVersion.objects.active().in_slot(slot).first()


def activate(version: ModelVersion, *, note: str = "") -> ModelVersion:
    """Make ``version`` the one active version of its slot, in one transaction."""
    if version.status != ModelVersion.Status.READY or not version.artifact:
        raise NotActivatable(f"Version #{version.pk} is {version.status} and cannot be activated.")
    with transaction.atomic():
        ModelVersion.objects.active().in_slot(version.slot).exclude(pk=version.pk).update(
            is_active=False
        )
        version.is_active = True
        if note:
            version.note = note
        version.save(update_fields=["is_active", "note"])
        transaction.on_commit(lambda: model_activated.send(sender=ModelVersion, version=version))
    return version


def rollback(slot: str = "default") -> ModelVersion:
    """Activate the newest ready version older than the active one of ``slot``."""
    current = active_version(slot)
    older = ModelVersion.objects.in_slot(slot).ready().filter(is_active=False)
    if current is not None:
        older = older.filter(created_at__lt=current.created_at)
    previous = older.order_by("-created_at").first()
    if previous is None:
        raise NotActivatable("There is no earlier ready version to roll back to.")
    return activate(previous, note=f"Rolled back from #{current.pk}." if current else "")
