"""Training time and peak memory of the default model at scale, on synthetic data.

Generates 1,000,000 interactions of 100,000 users on 20,000 items (clustered tastes,
long-tailed popularity, 200 cold catalogue items with content), then times ``prepare`` and
``AutoencoderRecommender().fit`` with default parameters, an export, and batch scoring of
10,000 users. Prints seconds and the process's peak resident memory (RSS).

    python benchmarks/train_scale.py [--users 100000] [--items 20000] [--interactions 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from recommender.ml.autoencoder import AutoencoderRecommender  # noqa: E402
from recommender.ml.content import featurize  # noqa: E402
from recommender.ml.data import prepare  # noqa: E402
from recommender.ml.memory import PeakMemory, peak_rss_mb  # noqa: E402
from recommender.ml.scoring import Scorer  # noqa: E402

N_CLUSTERS = 50
COLD_ITEMS = 200


def synthetic(n_users: int, n_items: int, n_events: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Users with one favourite cluster: 80% of their events there, 20% anywhere, both
    Zipf-distributed; timestamps spread over a year."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_events)
    users[:n_users] = np.arange(n_users)  # everyone has at least one event
    cluster = rng.integers(0, N_CLUSTERS, n_users)[users]
    per_cluster = n_items // N_CLUSTERS
    zipf = 1.0 / np.arange(1, per_cluster + 1)
    within = rng.choice(per_cluster, n_events, p=zipf / zipf.sum())
    global_zipf = 1.0 / np.arange(1, n_items + 1) ** 0.8
    anywhere = rng.choice(n_items, n_events, p=global_zipf / global_zipf.sum())
    items = np.where(rng.random(n_events) < 0.8, cluster * per_cluster + within, anywhere)
    timestamps = rng.integers(1_600_000_000, 1_600_000_000 + 365 * 86400, n_events)
    return users, items.astype(np.int64), timestamps.astype(np.float64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    args = parser.parse_args()
    users, items, timestamps = synthetic(args.users, args.items, args.interactions)
    catalogue = np.arange(args.items + COLD_ITEMS, dtype=np.int64)
    print(
        f"generated {len(users):,} events, {args.users:,} users, {args.items:,} items "
        f"(+{COLD_ITEMS} cold); RSS so far {peak_rss_mb():.0f} MB",
        flush=True,
    )
    with PeakMemory() as memory:
        started = time.perf_counter()
        dataset = prepare(users, items, np.ones(len(users)), timestamps, extra_item_keys=catalogue)
        prepared = time.perf_counter() - started
        content = featurize(
            [f"item {k} group {k * N_CLUSTERS // args.items}" for k in catalogue],
            [[f"g{k * N_CLUSTERS // args.items}"] for k in catalogue],
        )
        model = AutoencoderRecommender().fit(dataset, content, on_epoch=_progress)
        fitted = time.perf_counter() - started
        arrays = model.export()
    print(
        f"prepare: {prepared:.1f} s; prepare + features + fit: {fitted:.1f} s "
        f"({dataset.n_users:,} x {dataset.n_items:,}, {dataset.nnz:,} pairs)"
    )
    print(
        f"peak RSS during prepare + fit + export: {memory.peak_mb:.0f} MB "
        f"(peak mark reset before: {memory.reset})"
    )
    print(
        f"item-item component: {'yes' if 'item_item' in arrays else 'no (catalogue too large)'}; "
        f"export {sum(a.nbytes for a in arrays.values()) / 2**20:.0f} MB"
    )
    _time_scoring(Scorer(arrays), dataset.matrix[:10_000], dataset.timestamps)
    return 0


def _progress(epoch: int, logs: dict) -> None:
    shown = ", ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items()
    )
    print(f"  epoch {epoch}: {shown}", flush=True)


def _time_scoring(scorer: Scorer, histories: sp.csr_matrix, timestamps: np.ndarray) -> None:
    started = time.perf_counter()
    keys, _ = scorer.recommend_batch(histories, 10, timestamps=timestamps[: histories.nnz])
    seconds = time.perf_counter() - started
    print(
        f"recommend_batch: {histories.shape[0]:,} users in {seconds:.1f} s "
        f"({histories.shape[0] / seconds:,.0f} users/s); peak RSS {peak_rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    sys.exit(main())
