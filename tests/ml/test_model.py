"""The default autoencoder end to end on planted clusters: quality, fold-in, cold items,
artifacts, exclusions, explanations."""

import numpy as np
import pytest

from recommender.ml.artifacts import load_arrays, save_arrays
from recommender.ml.autoencoder import AutoencoderRecommender
from recommender.ml.baselines import EASERecommender, ItemKNNRecommender, PopularityRecommender
from recommender.ml.content import featurize
from recommender.ml.data import prepare
from recommender.ml.evaluation import evaluate_method
from recommender.ml.scoring import Scorer

from .conftest import GENRES, ITEMS_PER_CLUSTER, N_CLUSTERS

SMALL = {"hidden": 32, "epochs": 25, "seed": 0}
COLD = 5000  # a new item, no interactions, content of cluster 0


def _content(planted, keys):
    titles = [planted.titles.get(int(k), "rocket orbit alien") for k in keys]
    genres = [planted.genres.get(int(k), [GENRES[0]]) for k in keys]
    return featurize(titles, genres)


@pytest.fixture(scope="module")
def fitted(planted):
    dataset = prepare(
        planted.users,
        planted.items,
        np.ones(len(planted.users)),
        planted.ts,
        extra_item_keys=[COLD],
    )
    epochs = []
    model = AutoencoderRecommender(**SMALL).fit(
        dataset, _content(planted, dataset.item_keys), on_epoch=lambda e, logs: epochs.append(e)
    )
    return model, Scorer(model.export()), epochs


def _cluster_items(c):
    return [1000 + c * ITEMS_PER_CLUSTER + i for i in range(ITEMS_PER_CLUSTER)]


def test_beats_popularity_by_a_clear_margin(planted):
    def run(factory):
        return evaluate_method(factory, planted.users, planted.items, planted.ts)["ndcg@10"]

    model, popular = run(lambda: AutoencoderRecommender(**SMALL)), run(PopularityRecommender)
    assert model > popular + 0.1, (model, popular)


def test_history_and_epoch_callback(fitted):
    model, _, epochs = fitted
    assert epochs == list(range(SMALL["epochs"]))
    assert {"loss", "val_ndcg@10"} <= set(model.history[0])
    assert "val_ndcg@10_blend" in model.history[-1]
    assert model.params["hidden"] == 32


def test_fold_in_new_user_gets_their_cluster(fitted):
    _, scorer, _ = fitted
    history = _cluster_items(0)[:5]
    recs = scorer.recommend(history, k=10)
    keys = [k for k, _ in recs]
    assert not set(keys) & set(history)
    ours = sum(k in _cluster_items(0) or k == COLD for k in keys)
    popular = sum(k in _cluster_items(0) for k, _ in scorer.popular(15) if k not in history)
    assert ours >= 6 and ours >= popular + 4, (ours, popular)
    assert [s for _, s in recs] == sorted((s for _, s in recs), reverse=True)


def test_empty_or_unknown_history_gives_popularity(fitted):
    _, scorer, _ = fitted
    assert scorer.recommend([], k=5) == scorer.popular(5)
    assert scorer.recommend([123456], k=5) == scorer.popular(5)
    assert COLD not in [k for k, _ in scorer.popular(200)][:120]


def test_cold_item_is_recommended_and_similar(fitted):
    _, scorer, _ = fitted
    history = _cluster_items(0)[:8]
    keys = [k for k, _ in scorer.recommend(history, k=15)]
    assert COLD in keys
    other = [k for k, _ in scorer.recommend(_cluster_items(2)[:8], k=15)]
    assert COLD not in other
    similar = [k for k, _ in scorer.similar(COLD, k=10)]
    assert sum(k in _cluster_items(0) for k in similar) >= 8
    assert scorer.similar(987654) == []


def test_exclusions_are_honoured(fitted):
    _, scorer, _ = fitted
    history = _cluster_items(1)[:5]
    first = [k for k, _ in scorer.recommend(history, k=5)]
    allowed = ~scorer.mask_for(_cluster_items(1)[5:10])
    recs = scorer.recommend(history, k=5, exclude_keys=first[:2], allowed_mask=allowed)
    keys = [k for k, _ in recs]
    assert not set(keys) & set(first[:2]) and not set(keys) & set(_cluster_items(1)[5:10])
    with_seen = [k for k, _ in scorer.recommend(history, k=200, exclude_seen=False)]
    assert set(history) <= set(with_seen)
    only = scorer.mask_for([1000, 1001, 1002])
    assert {k for k, _ in scorer.recommend([1003], k=10, allowed_mask=only)} == {1000, 1001, 1002}


def test_recommend_batch_matches_single(fitted):
    _, scorer, _ = fitted
    histories = [_cluster_items(c)[:6] for c in range(N_CLUSTERS)] + [[]]
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    cols = scorer.index_of(np.concatenate(histories).astype(np.int64))
    import scipy.sparse as sp

    matrix = sp.csr_matrix(
        (np.ones(len(cols), np.float32), (rows, cols)), shape=(len(histories), scorer.n_items)
    )
    order = np.lexsort((cols, rows))
    times = np.concatenate([np.arange(len(h), dtype=float) for h in histories])[order]
    keys, scores = scorer.recommend_batch(matrix, 10, timestamps=times, batch_size=2)
    for row, history in enumerate(histories):
        single = scorer.recommend(history, k=10)
        assert keys[row].tolist() == [k for k, _ in single]
        assert np.allclose(scores[row], [s for _, s in single], atol=1e-4)
        assert not set(keys[row]) & set(history)


def test_explain_points_at_related_history(fitted):
    _, scorer, _ = fitted
    history = _cluster_items(0)[:4] + _cluster_items(3)[:4]
    target = [k for k, _ in scorer.recommend(_cluster_items(3)[:4], k=1)][0]
    reasons = scorer.explain(history, None, target, n=2)
    assert len(reasons) == 2 and all(k in _cluster_items(3)[:4] for k, _ in reasons)
    assert reasons[0][1] >= reasons[1][1] > 0


def test_artifact_round_trip_gives_identical_scores(fitted, tmp_path):
    model, scorer, _ = fitted
    digest = save_arrays(model.export(), tmp_path / "model.npz")
    loaded = Scorer(load_arrays(tmp_path / "model.npz", expected_sha256=digest))
    history = _cluster_items(2)[:6]
    assert loaded.recommend(history, k=10) == scorer.recommend(history, k=10)
    assert loaded.similar(COLD) == scorer.similar(COLD)


def test_save_keras_matches_exported_weights(fitted, tmp_path):
    import keras

    model, _, _ = fitted
    model.save_keras(str(tmp_path / "model.keras"))
    restored = keras.models.load_model(tmp_path / "model.keras")
    exported = model.export()
    x = np.zeros((1, len(exported["item_keys"])), np.float32)
    x[0, :3] = 1.0
    hidden = np.tanh(x / np.sqrt(3) @ exported["encoder_kernel"] + exported["encoder_bias"])
    expected = hidden @ exported["decoder_kernel"] + exported["decoder_bias"]
    assert np.allclose(restored.predict(x, verbose=0), expected, atol=1e-4)


@pytest.mark.parametrize("factory", [PopularityRecommender, ItemKNNRecommender, EASERecommender])
def test_baselines_export_to_the_same_scorer(planted, factory):
    dataset = prepare(planted.users, planted.items, np.ones(len(planted.users)), planted.ts)
    scorer = Scorer(factory().fit(dataset).export())
    recs = scorer.recommend(_cluster_items(1)[:5], k=5)
    assert len(recs) == 5 and not {k for k, _ in recs} & set(_cluster_items(1)[:5])
    assert len(scorer.similar(1000, k=3)) == 3


def test_tiny_dataset_still_fits_and_serves():
    dataset = prepare([1, 1, 2, 2, 3], [10, 11, 11, 12, 10], np.ones(5), np.arange(5))
    model = AutoencoderRecommender(hidden=4, epochs=2).fit(dataset)
    scorer = Scorer(model.export())
    assert [k for k, _ in scorer.recommend([10], k=5)] and len(model.history) == 2


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    from recommender.ml.autoencoder import _EarlyStopping

    class Trainer:
        epoch = 0

        def numpy_weights(self):
            return {"epoch": np.array([self.epoch])}

    trainer, stopper = Trainer(), _EarlyStopping(patience=2)
    stops = []
    for epoch, metric in enumerate([0.1, 0.3, 0.2, 0.25, 0.4]):
        trainer.epoch = epoch
        stops.append(stopper.should_stop(metric, trainer))
        if stops[-1]:
            break
    assert stops == [False, False, False, True]
    assert int(stopper.best_weights["epoch"][0]) == 1  # the best epoch's weights are kept
    assert not _EarlyStopping(patience=0).should_stop(0.1, trainer)
