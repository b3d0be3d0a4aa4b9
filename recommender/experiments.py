"""A/B experiments: a stable hash of the user picks the arm, and so the model version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from . import cache
from .models import Experiment

__all__ = ["Arm", "arm_for", "bucket", "running", "invalidate"]

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


def running() -> dict | None:
    """The running experiment as a small dict (cached), or None."""
    data = cache.get_value(KEY)
    if data is None:
        exp = Experiment.objects.filter(status=Experiment.Status.RUNNING).first()
        data = {"id": exp.pk, "a": exp.version_a_id, "b": exp.version_b_id,
                "share_b": exp.share_b} if exp else {}
        cache.set_value(KEY, data, 300)
    return data or None


def arm_for(user_id: Any) -> Arm | None:
    exp = running()
    if not exp:
        return None
    arm = "b" if bucket(exp["id"], user_id) < exp["share_b"] else "a"
    return Arm(exp["id"], arm, exp[arm])


def invalidate() -> None:
    cache.delete_value(KEY)
