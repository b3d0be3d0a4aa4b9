"""prepare(): deduplication, decay, negatives, minimum counts, cold items, too little data."""

import numpy as np
import pytest

from recommender.ml.data import SECONDS_PER_DAY, InsufficientData, prepare


def _dense(dataset):
    return dataset.matrix.toarray()


def test_dedup_sums_then_log_and_keeps_latest_time():
    ds = prepare(["a", "a", "b", "b"], [1, 1, 1, 2], [1.0, 2.0, 1.0, 1.0], [10, 30, 20, 5])
    assert ds.user_keys.tolist() == ["a", "b"] and ds.item_keys.tolist() == [1, 2]
    assert ds.nnz == 3 and ds.n_users == 2 and ds.n_items == 2
    assert _dense(ds)[0, 0] == pytest.approx(np.log2(4.0))
    assert _dense(ds)[1].tolist() == [1.0, 1.0]
    assert ds.timestamps.tolist() == [30.0, 20.0, 5.0]


def test_negative_net_weight_is_a_negative_not_a_positive():
    ds = prepare([1, 1, 1, 2, 2], [10, 11, 11, 10, 11], [1.0, 1.0, -3.0, 1.0, 1.0], [0, 1, 2, 3, 4])
    assert _dense(ds)[0].tolist() == [1.0, 0.0]
    assert ds.negatives.toarray()[0].tolist() == [0.0, 2.0]


def test_time_decay_halves_per_half_life():
    now = 100 * SECONDS_PER_DAY
    ds = prepare(
        [1, 1, 2, 2],
        [5, 6, 5, 6],
        [1.0, 1.0, 1.0, 1.0],
        [now, now - 10 * SECONDS_PER_DAY, now, now],
        half_life_days=10,
        now=now,
    )
    assert _dense(ds)[0, 1] == pytest.approx(np.log2(1.5))
    assert _dense(ds)[0, 0] == pytest.approx(1.0)


def test_minimum_counts_are_applied_until_stable():
    # Item 3 has one user; dropping it leaves user "c" with one item, so "c" goes too,
    # which leaves item 2 with one user, so it goes as well.
    users = ["a", "a", "b", "b", "c", "c"]
    items = [1, 4, 1, 4, 2, 3]
    ds = prepare(
        users, items, np.ones(6), np.arange(6), min_user_interactions=2, min_item_interactions=2
    )
    assert ds.user_keys.tolist() == ["a", "b"] and ds.item_keys.tolist() == [1, 4]


def test_extra_items_become_cold_columns():
    ds = prepare([1, 2], [7, 8], [1.0, 1.0], [0, 0], extra_item_keys=[9, 7])
    assert ds.item_keys.tolist() == [7, 8, 9]
    assert ds.item_counts().tolist() == [1, 1, 0] and ds.warm_items().tolist() == [
        True,
        True,
        False,
    ]


def test_too_little_data_says_what_is_missing():
    with pytest.raises(InsufficientData, match="need at least 2 users with interactions, got 1"):
        prepare([1, 1], [7, 8], [1.0, 1.0], [0, 1])
    with pytest.raises(InsufficientData, match="2 items"):
        prepare([1, 2], [7, 7], [1.0, 1.0], [0, 1])
    with pytest.raises(ValueError):
        prepare([], [], [], [])
