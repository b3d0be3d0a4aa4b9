"""Learning backends that misbehave on purpose: worse than popularity, crashing, stalling."""

from __future__ import annotations

import os
import time
from pathlib import Path

from recommender.ml.baselines import EASERecommender

__all__ = ["ReversedEASERecommender", "CrashingRecommender", "StallingEASERecommender"]


class ReversedEASERecommender(EASERecommender):
    """EASE with its item-item weights negated: it recommends what a user's taste avoids."""

    def _compute(self, matrix):
        return -super()._compute(matrix)


class CrashingRecommender(EASERecommender):
    """Fails in the middle of fitting, as a backend with a bug or an exhausted resource."""

    def fit(self, *args, **kwargs):
        raise MemoryError("the worker ran out of memory while fitting")


class StallingEASERecommender(EASERecommender):
    """Touches the file named by RECOMMENDER_STALL_MARKER, then sleeps inside fit so that a
    test can kill the process while it trains."""

    def fit(self, *args, **kwargs):
        marker = os.environ.get("RECOMMENDER_STALL_MARKER")
        if marker:
            Path(marker).write_text(str(os.getpid()))
            time.sleep(120)
        return super().fit(*args, **kwargs)
