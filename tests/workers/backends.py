"""Learning backends for worker tests: EASE that waits at a gate, to hold the training lock."""

import threading

from recommender.ml.baselines import EASERecommender

# Closed: fit() waits until a test opens it (tests run the worker in this process).
GATE = threading.Event()
GATE.set()


class GatedEASERecommender(EASERecommender):
    def fit(self, *args, **kwargs):
        if not GATE.wait(timeout=60):
            raise RuntimeError("the test never opened the gate")
        return super().fit(*args, **kwargs)
