"""The evaluation protocol on hand-computed examples."""

import numpy as np
import pytest

from recommender.ml.evaluation import evaluate, metrics_for_rankings, temporal_split


def test_split_holds_out_latest_rounded_share_ties_by_item():
    # User 1: 6 items, round(1.2) = 1 held out; the two latest share a time, item 9 > 8.
    # User 2: 8 items, round(1.6) = 2. User 3: 3 items, below 5: all in training.
    users = [1] * 6 + [2] * 8 + [3] * 3 + [1]
    items = [1, 2, 3, 4, 9, 8] + list(range(10, 18)) + [1, 2, 3] + [1]
    ts = [1, 2, 3, 4, 5, 5] + list(range(8)) + [0, 1, 2] + [99]  # duplicate (1, 1) ignored
    train, test = temporal_split(np.array(users), np.array(items), np.array(ts))
    assert test[1].tolist() == [9]
    assert test[2].tolist() == [16, 17]
    assert 3 not in test
    assert len(train) == 5 + 6 + 3


def test_metrics_hand_computed():
    rankings = [[1, 2, 3], [4, 5, 6]]
    relevant = [np.array([2]), np.array([7, 8])]
    m = metrics_for_rankings(rankings, relevant, n_candidates=10, k=3)
    assert m["ndcg@3"] == pytest.approx((1 / np.log2(3)) / 2)
    assert m["recall@3"] == pytest.approx(0.5)
    assert m["hit@3"] == pytest.approx(0.5)
    assert m["coverage@3"] == pytest.approx(0.6)


def test_evaluate_with_function_drops_seen_and_unknown_items():
    users = np.array([1] * 5 + [2] * 5)
    items = np.array([1, 2, 3, 4, 5, 5, 1, 2, 3, 4])
    ts = np.array([0, 1, 2, 3, 4] * 2)
    train, test = temporal_split(users, items, ts)
    assert test[1].tolist() == [5] and test[2].tolist() == [4]

    def recommend(user, k):
        return [1, 99, 5, 4]  # 1 is seen by both, 99 is no candidate

    m = evaluate(recommend, train, test, k=1)
    assert m["hit@1"] == pytest.approx(1.0) and m["ndcg@1"] == pytest.approx(1.0)
    assert m["coverage@1"] == pytest.approx(2 / 5)
