"""A/B experiments: a stable hash of the user picks the arm, and so the model version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import cache, registry
from .models import Experiment, ModelVersion

__all__ = [
    "Arm",
    "arm_for",
    "bucket",
    "running",
    "invalidate",
    "ExperimentError",
    "check_versions",
    "start_experiment",
    "end_experiment",
]

KEY = "experiment"


@dataclass(frozen=True)
class Arm:
    experiment_id: int
    arm: str  # "a" or "b"
    version_id: int


def bucket(experiment_id: int, user_id: Any) -> float:
    """A number in [0, 1) fixed for a user within an experiment."""
    digest = hashlib.sha256(f"{experiment_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def running(data: dict | None = None) -> dict | None:
    """The running experiment as a small dict (cached), or None; ``data`` is the cached value
    when the caller already read it."""
    if data is None:
        data = cache.get_value(KEY)
    if data is None:
        exp = Experiment.objects.filter(status=Experiment.Status.RUNNING).first()
        data = (
            {"id": exp.pk, "a": exp.version_a_id, "b": exp.version_b_id, "share_b": exp.share_b}
            if exp
            else {}
        )
        cache.set_value(KEY, data, 300)
    return data or None


def arm_for(user_id: Any, data: dict | None = None) -> Arm | None:
    exp = running(data)
    if not exp:
        return None
    arm = "b" if bucket(exp["id"], user_id) < exp["share_b"] else "a"
    return Arm(exp["id"], arm, exp[arm])


def invalidate() -> None:
    cache.delete_value(KEY)


class ExperimentError(ValueError):
    """An experiment cannot start or end as asked."""


def check_versions(version_a: ModelVersion, version_b: ModelVersion, share_b: float) -> None:
    """Raise ExperimentError unless two distinct ready versions of one slot can be compared."""
    if version_a.pk == version_b.pk:
        raise ExperimentError("Choose two different model versions.")
    for version in (version_a, version_b):
        if version.status != ModelVersion.Status.READY or not version.artifact:
            raise ExperimentError(f"Version #{version.pk} is {version.status}, not ready to serve.")
    if version_a.slot != version_b.slot:
        raise ExperimentError("Both versions must belong to the same slot.")
    if not 0 < share_b < 1:
        raise ExperimentError("The share of version B must be between 0 and 1 (exclusive).")


def start_experiment(
    name: str, version_a: ModelVersion, version_b: ModelVersion, *, share_b: float = 0.5
) -> Experiment:
    """Start splitting users between two ready versions; only one experiment runs at a time."""
    check_versions(version_a, version_b, share_b)
    with transaction.atomic():
        current = (
            Experiment.objects.select_for_update().filter(status=Experiment.Status.RUNNING).first()
        )
        if current is not None:
            raise ExperimentError(f"{current} is still running; end it first.")
        try:
            with transaction.atomic():
                return Experiment.objects.create(
                    name=name, version_a=version_a, version_b=version_b, share_b=share_b
                )
        except IntegrityError as exc:  # another editor started one at the same moment
            raise ExperimentError("Another experiment is already running.") from exc


def end_experiment(experiment: Experiment, winner: ModelVersion) -> Experiment:
    """Stop the split and make ``winner`` (one of the two arms' versions) the active version."""
    if experiment.status != Experiment.Status.RUNNING:
        raise ExperimentError(f"{experiment} has already ended.")
    if winner.pk not in (experiment.version_a_id, experiment.version_b_id):
        raise ExperimentError(f"Version #{winner.pk} is not part of {experiment}.")
    with transaction.atomic():
        registry.activate(winner, note=f"Chosen as the winner of experiment {experiment.name!r}.")
        experiment.status, experiment.winner = Experiment.Status.ENDED, winner
        experiment.ended_at = timezone.now()
        experiment.save(update_fields=["status", "winner", "ended_at"])
    return experiment
