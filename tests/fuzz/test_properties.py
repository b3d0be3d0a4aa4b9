"""Hypothesis properties of the data preparation and top-k code, each checked against a
plain-Python reference written from the docstrings (no database, no Django)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recommender.ml.data import SECONDS_PER_DAY, InsufficientData, prepare
from recommender.ml.topk import top_k

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None)

# -- prepare -----------------------------------------------------------------------------------

# Weights of real event types (integers, so every sum is exact and a pair's sign is certain).
WEIGHTS = st.sampled_from([-4.0, -1.0, 1.0, 2.0, 4.0, 5.0, 8.0])


@st.composite
def event_logs(draw, max_events: int = 60):
    n = draw(st.integers(0, max_events))
    users = draw(st.lists(st.integers(0, 7), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(100, 110), min_size=n, max_size=n))
    weights = draw(st.lists(WEIGHTS, min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))
    return users, items, weights, times


def reference(users, items, weights, times, min_user=1, min_item=1, extra=()):
    """prepare() as its docstring states it, one pair at a time."""
    total, last = defaultdict(float), {}
    for u, i, w, t in zip(users, items, weights, times, strict=True):
        total[u, i] += w
        last[u, i] = max(last.get((u, i), -math.inf), t)
    positive = {p for p, w in total.items() if w > 0}
    keep_u, keep_i = {u for u, _ in positive}, {i for _, i in positive}
    while True:
        alive = [(u, i) for u, i in positive if u in keep_u and i in keep_i]
        per_user = defaultdict(int, {u: sum(1 for a, _ in alive if a == u) for u in keep_u})
        per_item = defaultdict(int, {i: sum(1 for _, b in alive if b == i) for i in keep_i})
        new_u = {u for u in keep_u if per_user[u] >= max(min_user, 1)}
        new_i = {i for i in keep_i if per_item[i] >= max(min_item, 1)}
        if (new_u, new_i) == (keep_u, keep_i):
            break
        keep_u, keep_i = new_u, new_i
    if len(keep_u) < 2 or len(keep_i) < 2:
        return None
    kept = {(u, i) for u, i in total if u in keep_u and i in keep_i}
    return {
        "users": sorted(keep_u),
        "items": sorted(keep_i | set(extra)),
        "positives": {p: (math.log2(1 + total[p]), last[p]) for p in kept if total[p] > 0},
        "negatives": {p: -total[p] for p in kept if total[p] < 0},
    }


def as_dict(dataset, matrix) -> dict:
    coo = matrix.tocoo()
    return {
        (int(dataset.user_keys[r]), int(dataset.item_keys[c])): float(v)
        for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)
    }


@PROPERTY
@given(
    event_logs(), st.integers(1, 3), st.integers(1, 3), st.lists(st.integers(95, 115), max_size=4)
)
def test_prepare_matches_the_reference(log, min_user, min_item, extra):
    expected = reference(*log, min_user, min_item, extra)
    if expected is None:
        with pytest.raises(InsufficientData):
            prepare(
                *log,
                min_user_interactions=min_user,
                min_item_interactions=min_item,
                extra_item_keys=np.asarray(extra, np.int64),
            )
        return
    ds = prepare(
        *log,
        min_user_interactions=min_user,
        min_item_interactions=min_item,
        extra_item_keys=np.asarray(extra, np.int64),
    )
    assert ds.user_keys.tolist() == expected["users"]
    assert ds.item_keys.tolist() == expected["items"]
    assert ds.matrix.shape == ds.negatives.shape == (len(expected["users"]), len(expected["items"]))
    assert ds.matrix.has_sorted_indices and ds.matrix.dtype == np.float32
    assert len(ds.timestamps) == ds.nnz
    got = as_dict(ds, ds.matrix)
    assert got.keys() == expected["positives"].keys()
    for pair, (weight, _) in expected["positives"].items():
        assert got[pair] == pytest.approx(weight, rel=1e-6)
    coo = ds.matrix.tocoo()  # canonical CSR: coo order is data order
    stamps = {
        (int(ds.user_keys[r]), int(ds.item_keys[c])): t
        for r, c, t in zip(coo.row, coo.col, ds.timestamps, strict=True)
    }
    assert stamps == {p: float(t) for p, (_, t) in expected["positives"].items()}
    assert as_dict(ds, ds.negatives) == pytest.approx(expected["negatives"])


@PROPERTY
@given(event_logs(), st.floats(5.0, 400.0))
def test_time_decay_only_ever_lowers_a_positive_weight(log, half_life):
    # Ages reach 1000 days, at most 200 half-lives: no weight underflows to exactly 0 (which
    # would drop its pair as one that nets to zero).
    users, items, weights, times = log
    weights = [abs(w) for w in weights]  # all positive: decay cannot flip a sign
    assume(reference(users, items, weights, times) is not None)
    times = [t * SECONDS_PER_DAY / 1000 for t in times]
    plain = prepare(users, items, weights, times)
    decayed = prepare(users, items, weights, times, half_life_days=half_life)
    assert decayed.user_keys.tolist() == plain.user_keys.tolist()
    assert decayed.item_keys.tolist() == plain.item_keys.tolist()
    assert (decayed.matrix.indices == plain.matrix.indices).all()
    assert (decayed.matrix.data <= plain.matrix.data * (1 + 1e-6)).all()
    # Very old events can decay below float precision: log2(1 + w) is then a stored 0.
    assert (decayed.matrix.data >= 0).all()
    # The newest event of the log counts in full.
    newest = int(np.argmax(times))
    row = plain.user_keys.tolist().index(users[newest])
    col = plain.item_keys.tolist().index(items[newest])
    assert decayed.matrix[row, col] >= math.log2(1 + weights[newest]) * (1 - 1e-6)


@PROPERTY
@given(event_logs())
def test_prepare_ignores_the_order_of_events(log):
    assume(reference(*log) is not None)
    order = np.random.default_rng(len(log[0])).permutation(len(log[0]))
    shuffled = [np.asarray(column)[order] for column in log]
    a, b = prepare(*log), prepare(*shuffled)
    assert (a.user_keys == b.user_keys).all() and (a.item_keys == b.item_keys).all()
    assert (a.matrix != b.matrix).nnz == 0 and (a.timestamps == b.timestamps).all()
    assert (a.negatives != b.negatives).nnz == 0


# -- top_k -----------------------------------------------------------------------------------

FLOAT32 = st.floats(-1e6, 1e6, width=32, allow_nan=False)
scores_1d = hnp.arrays(np.float32, st.integers(0, 40), elements=FLOAT32)


@PROPERTY
@given(scores_1d, st.integers(0, 50), st.data())
def test_top_k_returns_the_k_best_in_order(scores, k, data):
    mask = data.draw(hnp.arrays(bool, len(scores)))
    index, values = top_k(scores, k, exclude_mask=mask)
    allowed = sorted(scores[~mask].tolist(), reverse=True)
    assert len(index) == min(k, len(allowed))
    assert values.tolist() == allowed[: len(index)]
    assert values.tolist() == scores[index].tolist()
    assert len(set(index.tolist())) == len(index)
    assert not mask[index].any()
    ties = values[1:] == values[:-1]
    assert (index[1:][ties] > index[:-1][ties]).all(), "equal scores come in index order"


def test_top_k_gives_equal_scores_in_index_order():
    index, _ = top_k(np.array([0, 1, 2, 1, 1, 2], np.float32), 5)
    assert index.tolist() == [2, 5, 1, 3, 4]


@PROPERTY
@given(st.integers(1, 6), st.integers(1, 30), st.integers(0, 35), st.data())
def test_top_k_of_a_matrix_is_top_k_of_each_row_padded(rows, cols, k, data):
    scores = data.draw(hnp.arrays(np.float32, (rows, cols), elements=FLOAT32))
    mask = data.draw(hnp.arrays(bool, (rows, cols)))
    index, values = top_k(scores, k, exclude_mask=mask)
    width = min(k, cols)
    assert index.shape == values.shape == (rows, width)
    for r in range(rows):
        one_index, one_values = top_k(scores[r], k, exclude_mask=mask[r])
        n = len(one_index)
        assert values[r, :n].tolist() == one_values.tolist()
        assert index[r, :n].tolist() == one_index.tolist()
        assert (index[r, n:] == -1).all() and np.isneginf(values[r, n:]).all()


@PROPERTY
@given(
    hnp.arrays(
        np.float32,
        st.integers(1, 30),
        elements=st.one_of(st.floats(-10, 10, width=32), st.just(np.nan)),
    ),
    st.integers(1, 30),
)
def test_top_k_never_ranks_nan_above_a_number(scores, k):
    index, values = top_k(scores, k)
    finite = np.isfinite(values)
    if (~finite).any() and finite.any():
        assert np.argmin(finite) >= finite.sum(), "a NaN came before a number"
