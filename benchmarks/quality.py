"""Offline quality of the default model and reference methods on MovieLens 100K.

Applies the protocol of EVALUATION.md (temporal split, full ranking, metrics at 10) and
prints one table: the default AutoencoderRecommender (mean +- std over seeds), two one-seed
ablations of it, popularity, item-kNN (cosine), EASE (lambda 300) and implicit's ALS when
``implicit`` is installed.

    python benchmarks/quality.py [--data PATH] [--seeds 3] [--json FILE] [--no-ablations]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from recommender.ml.autoencoder import AutoencoderRecommender  # noqa: E402
from recommender.ml.baselines import (  # noqa: E402
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from recommender.ml.evaluation import evaluate, evaluate_method, temporal_split  # noqa: E402
from recommender.ml.movielens import load_movielens  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"
# One seed each: what the two ingredients of the default contribute.
ABLATIONS = {
    "ablation: autoencoder alone (item_item_weight=0), seed 0": {"item_item_weight": 0.0},
    "ablation: no recency weighting (half-lives 0), seed 0": {
        "input_half_life": 0.0,
        "target_half_life": 0.0,
    },
}
METRICS = ("ndcg@10", "recall@10", "hit@10", "coverage@10", "fit_seconds")


def main() -> int:
    args = _parse()
    try:
        ml = load_movielens(args.data)
    except FileNotFoundError as error:
        print(f"MovieLens not found: {error}. Pass --data PATH (a folder with u.data).")
        return 2
    events = (ml.users, ml.items, ml.timestamps)
    rows = {}
    runs = [
        _timed(lambda s=s: AutoencoderRecommender(seed=s), events, f"default seed {s}")
        for s in range(args.seeds)
    ]
    rows[f"default AutoencoderRecommender ({args.seeds} seeds)"] = _mean_std(runs)
    if not args.no_ablations:
        for label, params in ABLATIONS.items():
            rows[label] = _timed(lambda p=params: AutoencoderRecommender(**p), events, label)
    rows["popularity (training counts)"] = _timed(PopularityRecommender, events, "popularity")
    rows["item-kNN, cosine"] = _timed(ItemKNNRecommender, events, "item-kNN")
    rows["EASE (lambda 300)"] = _timed(lambda: EASERecommender(300.0), events, "EASE")
    als = _implicit_als(events)
    if als is None:
        print("implicit is not installed: ALS row skipped (pip install implicit)")
    else:
        rows["implicit ALS (32 factors, reg 0.01, alpha 5, 15 it.)"] = als
    _print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "seed_runs": runs}, indent=2))
    return 0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="MovieLens folder")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the default model")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--no-ablations", action="store_true", help="skip the ablation rows")
    return parser.parse_args()


def _timed(factory, events, label: str) -> dict:
    result = evaluate_method(factory, *events)
    print(
        f"  {label}: NDCG@10 {result['ndcg@10']:.4f} in {result['fit_seconds']:.1f} s "
        f"(peak RSS {result['peak_memory_mb']:.0f} MB)",
        flush=True,
    )
    return {m: float(result[m]) for m in (*METRICS, "peak_memory_mb")}


def _mean_std(runs: list[dict]) -> dict:
    out = {}
    for metric in runs[0]:
        values = np.array([r[metric] for r in runs])
        out[metric] = float(values.mean())
        out[metric + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        out[metric + "_range"] = [float(values.min()), float(values.max())]
    return out


def _implicit_als(events) -> dict | None:
    try:
        from implicit.als import AlternatingLeastSquares
    except ImportError:
        return None
    import scipy.sparse as sp

    train, test = temporal_split(*events)
    users, rows = np.unique(train.user, return_inverse=True)
    items, cols = np.unique(train.item, return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), len(items))
    )
    with _one_blas_thread():  # implicit's advice; ALS parallelises itself
        model = AlternatingLeastSquares(
            factors=32, regularization=0.01, alpha=5.0, iterations=15, random_state=0
        )
        started = time.perf_counter()
        model.fit(matrix, show_progress=False)
        seconds = time.perf_counter() - started
    ids, _ = model.recommend(np.arange(len(users)), matrix, N=10, filter_already_liked_items=True)
    ranked = {u.item(): items[ids[n]].tolist() for n, u in enumerate(users)}
    result = evaluate(lambda user, k: ranked.get(user, []), train, test, k=10)
    print(f"  ALS: NDCG@10 {result['ndcg@10']:.4f} in {seconds:.2f} s", flush=True)
    return {**{m: float(result[m]) for m in METRICS[:-1]}, "fit_seconds": seconds}


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


def _print_table(rows: dict) -> None:
    print("\n| method | NDCG@10 | Recall@10 | HitRate@10 | Coverage@10 | fit time |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        cells = [_cell(r, m) for m in METRICS[:-1]]
        print(f"| {name} | {' | '.join(cells)} | {r['fit_seconds']:.2f} s |")


def _cell(row: dict, metric: str) -> str:
    if metric + "_std" in row:
        return f"{row[metric]:.4f} ± {row[metric + '_std']:.4f}"
    return f"{row[metric]:.4f}"


if __name__ == "__main__":
    sys.exit(main())
