"""A user's data: export it, or forget it everywhere the app keeps it. Both are audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from . import cache, tracking
from .conf import app_settings
from .models import AuditLog, Impression, Interaction, ModelVersion

__all__ = ["export_user_data", "forget_user", "forget_late_impressions"]


def _subject(user: Any) -> str:
    return f"{user._meta.label}:{user.pk} ({user})"


def export_user_data(user: Any, *, actor: Any = None) -> dict[str, Any]:
    """Everything the app stores about ``user``, as JSON-ready data."""
    interactions = list(
        Interaction.objects.for_user(user)
        .order_by("timestamp")
        .values(
            "item__external_id",
            "item__title",
            "event_type",
            "value",
            "timestamp",
            "event_id",
            "rec_id",
        )
    )
    for row in interactions:
        row["item"] = row.pop("item__external_id")
        row["item_title"] = row.pop("item__title")
        row["timestamp"] = row["timestamp"].isoformat()
    shown = Impression.objects.for_user(user).count()
    AuditLog.objects.create(
        actor=_actor(actor),
        action="export",
        subject=_subject(user),
        detail={"interactions": len(interactions)},
    )
    return {"user": str(user.pk), "interactions": interactions, "impressions": shown}


@transaction.atomic
def forget_user(user: Any, *, actor: Any = None) -> dict[str, int]:
    """Delete the user's interactions, tracked lists and cached lists; keep the account.

    Returns:
        How many rows of each kind went.
    """
    deleted = {
        "interactions": Interaction.objects.for_user(user).delete()[0],
        "impressions": Impression.objects.for_user(user).delete()[0],
    }
    versions = list(ModelVersion.objects.values_list("pk", flat=True))
    user_id = user.pk
    deleted["impressions"] += tracking.discard_user(user_id)
    transaction.on_commit(lambda: cache.delete_user(user_id, versions))
    if app_settings.IMPRESSION_FLUSH_SECONDS > 0:
        # Lists shown just before may still wait in other web processes' impression queues:
        # sweep again once every queue has been written.
        from .tasks import enqueue, forget_late_impressions

        delay = float(app_settings.IMPRESSION_FLUSH_SECONDS) + 10
        transaction.on_commit(lambda: enqueue(forget_late_impressions, user_id, countdown=delay))
    AuditLog.objects.create(
        actor=_actor(actor), action="forget", subject=_subject(user), detail=deleted
    )
    return deleted


def forget_late_impressions(user_id: Any) -> int:
    """Delete the impressions of a forgotten user that web processes wrote after the forget
    (they were waiting in an impression queue); returns how many went."""
    return Impression.objects.filter(user_id=user_id).delete()[0]


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None
