"""Recency weights: latest items weigh 1, ties share a weight."""

import numpy as np
import pytest

from recommender.ml.recency import recency_weights


def test_latest_weighs_one_and_ties_share():
    indptr = np.array([0, 4, 5])
    ts = np.array([1.0, 3.0, 3.0, 2.0, 7.0])
    w = recency_weights(indptr, ts, half_life=0.5)
    assert w[1] == w[2] == 1.0 and w[4] == 1.0
    assert w[3] == pytest.approx(0.5 ** ((2 / 4) / 0.5))
    assert w[0] == pytest.approx(0.5 ** ((3 / 4) / 0.5))
    assert (recency_weights(indptr, ts, 0.0) == 1.0).all()
