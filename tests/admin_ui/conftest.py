"""Fixtures of the admin tests: tracked lists with known clicks, a second ready version."""

from datetime import timedelta

import pytest
from django.utils import timezone

from recommender.models import Impression, Interaction, ModelVersion


def track(
    user,
    items,
    *,
    version=None,
    placement="",
    experiment=None,
    arm="",
    clicks=(),
    purchases=(),
    when=None,
):
    """One tracked list of ``items`` shown to ``user``, then the given clicks and purchases."""
    shown = Impression.objects.create(
        user=user,
        placement=placement,
        source="computed" if version else "popular",
        model_version=version,
        experiment=experiment,
        arm=arm,
        item_ids=[i.external_id for i in items],
        created_at=when or timezone.now(),
    )
    for event_type, picked in (("click", clicks), ("purchase", purchases)):
        for item in picked:
            Interaction.objects.create(
                user=user,
                item=item,
                event_type=event_type,
                rec_id=shown.rec_id,
                timestamp=when or timezone.now(),
            )
    return shown


@pytest.fixture
def second_version(trained_version):
    """An older ready version of the same slot, sharing the trained one's artifact."""
    version = ModelVersion.objects.create(
        algorithm=trained_version.algorithm,
        status="ready",
        artifact=trained_version.artifact,
        artifact_sha256=trained_version.artifact_sha256,
        metrics=trained_version.metrics,
        history=[
            {"epoch": 0, "loss": 0.9, "val_ndcg@10": 0.2},
            {"epoch": 1, "loss": 0.5, "val_ndcg@10": 0.3},
        ],
        n_users=40,
        n_items=36,
        n_interactions=360,
        training_seconds=1.5,
    )
    # Older than the trained version (created_at is auto_now_add, so set it afterwards).
    ModelVersion.objects.filter(pk=version.pk).update(
        created_at=trained_version.created_at - timedelta(minutes=1)
    )
    version.refresh_from_db()
    return version
