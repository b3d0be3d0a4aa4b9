"""top_k against a full sort."""

import numpy as np

from recommender.ml.topk import top_k


def test_matches_full_sort_1d_and_2d():
    rng = np.random.default_rng(1)
    scores = rng.permutation(500).reshape(5, 100).astype(np.float32)
    index, values = top_k(scores, 7)
    expected = np.argsort(-scores, axis=1)[:, :7]
    assert (index == expected).all()
    assert (values == np.take_along_axis(scores, expected, 1)).all()
    one_index, one_values = top_k(scores[2], 7)
    assert (one_index == expected[2]).all() and (np.diff(one_values) < 0).all()


def test_exclusions_and_short_lists():
    scores = np.array([5.0, 4.0, 3.0, 2.0])
    index, _ = top_k(scores, 3, exclude_mask=np.array([True, False, True, False]))
    assert index.tolist() == [1, 3]
    index, values = top_k(np.array([[1.0, 2.0]]), 5, exclude_mask=np.array([[False, True]]))
    assert index.tolist() == [[0, -1]] and values[0, 1] == -np.inf


def test_k_zero():
    index, values = top_k(np.arange(4.0), 0)
    assert len(index) == 0 and len(values) == 0


def test_wide_rows_use_block_search_and_match_full_sort():
    rng = np.random.default_rng(2)
    scores = rng.standard_normal((6, 9001)).astype(np.float32)
    exclude = rng.random(scores.shape) < 0.5
    index, values = top_k(scores, 10, exclude)
    expected = np.argsort(-np.where(exclude, -np.inf, scores), axis=1)[:, :10]
    assert (index == expected).all()
    sparse_row = np.full(9001, -np.inf, np.float32)
    sparse_row[[5, 9000]] = [1.0, 2.0]
    assert top_k(sparse_row, 10)[0].tolist() == [9000, 5]
