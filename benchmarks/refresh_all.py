"""Full refresh of every user's list: our path against the bare numpy floor, in one run.

    python benchmarks/refresh_all.py [--users 100000] [--items 20000] [--dim 64] [--k 100]
        [--history 20] [--repeat 2] [--recommend-batch] [--no-redis] [--db]

Both sides score the same users' histories with the same autoencoder-shaped arrays (what
``AutoencoderRecommender.export`` writes at this catalogue size: no EASE part above 5,000
items) in batches of 1,024 users:

* floor: the matrix products (row norms, ``X @ W_enc``, ``tanh``, ``H @ W_dec`` + bias) and
  ``argpartition`` of the top ``k``; nothing else (not even sorting the ``k``);
* ours: ``recommender.refresh.rank_histories`` per REFRESH_CHUNK_SIZE chunk, exactly what each
  ``score_chunk`` task runs after its history query: recency weighting, ``Scorer.score``,
  seen and disliked items set to -inf, ``argpartition``, the top ``k`` sorted, and the
  per-user ``[(item, score), ...]`` lists built;
* with ``--recommend-batch``, for reference, ``Scorer.recommend_batch`` alone.

The sides take turns chunk by chunk (alternating which goes first), so both meet the same
load on a shared machine; wall and CPU (process) seconds are summed per side, and each side's
figure is the best of ``--repeat`` runs, after one warm-up chunk. Then every list is written
to Redis with ``recommender.cache.set_lists`` (django-redis, pipelined ``set_many`` of 500
lists), timed on its own, and the keys are deleted again (Redis: BENCH_REDIS_URL, default
db 8, emptied).

With ``--db`` the same users and histories then go into a fresh PostgreSQL database
(BENCH_DATABASE_URL, default .../recommender_bench_refresh) to time what the comparison leaves
out: the history queries of every chunk (``refresh.load_histories``), and a whole
``refresh_all`` run by a real worker (``celery -A project worker -Q celery -c 2``), from the
activation of the version to the pointer switch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

BATCH = 1024


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--history", type=int, default=20, help="mean history length")
    parser.add_argument("--chunk", type=int, default=2000, help="REFRESH_CHUNK_SIZE")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--redis", default="", help="default: BENCH_REDIS_URL or db 8")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis writes")
    parser.add_argument(
        "--db",
        action="store_true",
        help="also put the users in PostgreSQL: time the history queries, and the whole "
        "refresh_all through a real worker",
    )
    parser.add_argument(
        "--recommend-batch", action="store_true", help="also time Scorer.recommend_batch alone"
    )
    return parser.parse_args()


def _setup_django(redis_url: str) -> None:
    """The demo project in production shape (benchmarks/worker_settings.py): its default cache
    is django-redis on the benchmarks' Redis database, which is emptied."""
    from benchmarks import worker_site

    if redis_url:
        os.environ["BENCH_REDIS_URL"] = redis_url
    worker_site.configure("recommender_bench_refresh", redis_db=8)
    worker_site.claim_redis()
    import django

    django.setup()


def _arrays(n_items: int, dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Arrays shaped like an exported autoencoder (weights random: only shapes matter)."""
    return {
        "item_keys": np.arange(1, n_items + 1, dtype=np.int64),
        "popularity": rng.pareto(1.5, n_items).astype(np.float32),
        "model_kind": np.array("autoencoder"),
        "encoder_kernel": rng.normal(0, 0.05, (n_items, dim)).astype(np.float32),
        "encoder_bias": np.zeros(dim, np.float32),
        "decoder_kernel": rng.normal(0, 0.05, (dim, n_items)).astype(np.float32),
        "decoder_bias": rng.normal(0, 0.1, n_items).astype(np.float32),
        "recency_half_life": np.float32(0.1),
        "recency_floor": np.float32(0.0),
    }


def _histories(n_users: int, n_items: int, mean: int, rng: np.random.Generator):
    """CSR histories (popular items more likely), times aligned with the data, and a few
    dislikes, as ``refresh.load_histories`` returns them."""
    lengths = np.clip(rng.geometric(1.0 / mean, n_users), 1, 500)
    weights = rng.pareto(1.2, n_items) + 1e-3
    p = weights / weights.sum()
    rows = np.repeat(np.arange(n_users), lengths)
    cols = rng.choice(n_items, size=len(rows), p=p)
    matrix = sp.csr_matrix(
        (np.log2(1 + rng.integers(1, 9, len(rows))).astype(np.float32), (rows, cols)),
        shape=(n_users, n_items),
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    times = rng.random(matrix.nnz)
    disliked = [
        rng.integers(1, n_items + 1, 2) if u % 10 == 0 else np.empty(0, np.int64)
        for u in range(n_users)
    ]
    return matrix, times, disliked


def floor(arrays, histories: sp.csr_matrix, k: int) -> None:
    """The matrix products and argpartition only."""
    enc, enc_b = arrays["encoder_kernel"], arrays["encoder_bias"]
    dec, dec_b = arrays["decoder_kernel"], arrays["decoder_bias"]
    for lo in range(0, histories.shape[0], BATCH):
        x = histories[lo : lo + BATCH]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1), np.float32))
        hidden = np.tanh(np.asarray(x @ enc) / np.maximum(norms, 1e-12) + enc_b)
        scores = hidden @ dec + dec_b
        np.argpartition(scores, -k, axis=1)[:, -k:]


def ours(scorer, batch, k: int) -> dict:
    """What a score_chunk task runs after its history query."""
    from recommender.refresh import rank_histories

    return rank_histories(scorer, batch, k)


def recommend_batch(scorer, batch, k: int) -> None:
    """For reference: ``Scorer.recommend_batch`` alone (seen items excluded)."""
    scorer.recommend_batch(batch.histories, k, timestamps=batch.times)


def _chunks(histories, times, disliked, chunk: int):
    from recommender.refresh import HistoryBatch

    for lo in range(0, histories.shape[0], chunk):
        hi = min(lo + chunk, histories.shape[0])
        span = slice(histories.indptr[lo], histories.indptr[hi])
        yield HistoryBatch(list(range(lo, hi)), histories[lo:hi], times[span], disliked[lo:hi])


def compare(arrays, scorer, chunks, k: int, sides: list[str]) -> tuple[dict, dict]:
    """Each side on each chunk, in alternating order (both meet the same machine load);
    wall and CPU seconds per side, and our lists."""
    run = {
        "floor": lambda b: floor(arrays, b.histories, k),
        "ours": lambda b: lists.update(ours(scorer, b, k)),
        "recommend_batch": lambda b: recommend_batch(scorer, b, k),
    }
    lists: dict = {}
    totals = {side: np.zeros(2) for side in sides}
    for n, batch in enumerate(chunks):
        for side in sides if n % 2 == 0 else sides[::-1]:
            wall, cpu = time.perf_counter(), time.process_time()
            run[side](batch)
            totals[side] += (time.perf_counter() - wall, time.process_time() - cpu)
    return totals, lists


NAMES = {
    "floor": "bare numpy floor (products + argpartition)",
    "ours": "our refresh path (rank_histories)",
    "recommend_batch": "Scorer.recommend_batch (reference)",
}


def write(lists, chunk: int) -> tuple[float, int]:
    """All lists through ``cache.set_lists`` in chunks; seconds and bytes now in Redis."""
    from django.core.cache import caches

    from recommender import cache

    users = list(lists)
    start = time.perf_counter()
    for lo in range(0, len(users), chunk):
        if not cache.set_lists(1, {u: lists[u] for u in users[lo : lo + chunk]}):
            sys.exit("Redis refused the writes")
    seconds = time.perf_counter() - start
    client = caches["default"].client.get_client()
    used = client.info("memory")["used_memory"]
    caches["default"].delete_pattern("*")
    return seconds, used - client.info("memory")["used_memory"]


EVENTS = np.array(["view", "click", "like", "add_to_cart", "purchase"])


def _copy_site(histories: sp.csr_matrix, times: np.ndarray) -> None:
    """Users, items and interactions with COPY (bulk_create would take minutes here)."""
    from django.db import connection

    n_users, n_items = histories.shape
    rng = np.random.default_rng(3)
    now = time.time()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            "COPY auth_user (id, password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) FROM STDIN"
        ) as copy:
            for u in range(1, n_users + 1):
                copy.write_row((u, "!", False, f"user{u}", "", "", "", False, True, "now"))
        with raw.copy(
            "COPY recommender_item (id, external_id, title, description, properties, url, "
            "is_active, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(1, n_items + 1):
                copy.write_row((i, f"item-{i}", f"Item {i}", "", "{}", "", True, "now", "now"))
        rows = np.repeat(np.arange(n_users), np.diff(histories.indptr)) + 1
        events = EVENTS[rng.integers(0, len(EVENTS), histories.nnz)]
        stamps = now - times * 30 * 86400
        with raw.copy(
            "COPY recommender_interaction (user_id, item_id, event_type, timestamp, rec_id, "
            "created_at) FROM STDIN"
        ) as copy:
            for user, item, event, stamp in zip(
                rows.tolist(),
                (histories.indices + 1).tolist(),
                events.tolist(),
                stamps.tolist(),
                strict=True,
            ):
                copy.write_row((user, item, event, _iso(stamp), "", "now"))
        for table in ("auth_user", "recommender_item"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute("ANALYZE")


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(stamp))


def end_to_end(args, arrays, histories, times) -> None:
    """--db: the history queries alone, then refresh_all through `celery worker -c 2`."""
    from benchmarks import worker_site
    from recommender import cache, refresh, registry
    from recommender.serving import load_scorer

    worker_site.prepare()
    start = time.perf_counter()
    _copy_site(histories, times)
    print(
        f"PostgreSQL: {histories.nnz:,} interactions copied in {time.perf_counter() - start:.0f} s"
    )
    version = worker_site.store_version(arrays)
    scorer = load_scorer(version)
    chunks = refresh.plan_refresh(version.pk)
    start = time.perf_counter()
    loaded = sum(len(refresh.load_histories(c, scorer).user_ids) for c in chunks)
    seconds = time.perf_counter() - start
    print(
        f"history queries (load_histories, {len(chunks)} chunks of {args.chunk:,}): "
        f"{seconds:.2f} s for {loaded:,} users ({loaded / seconds:,.0f} users/s)"
    )
    with worker_site.celery_worker(concurrency=2):
        start = time.perf_counter()
        registry.activate(version)  # on commit: refresh_all -> chord of score_chunk tasks
        worker_site.wait_for(lambda: cache.get_current_version() == version.pk, 3600, "switch")
        seconds = time.perf_counter() - start
    print(
        f"refresh_all through a real worker (-c 2, prefork), activation -> pointer switch: "
        f"{seconds:.1f} s for {loaded:,} users ({loaded / seconds:,.0f} users/s)"
    )


def main() -> int:
    args = _parse()
    _setup_django(args.redis)
    from recommender.ml.scoring import Scorer

    rng = np.random.default_rng(0)
    print(
        f"{args.users:,} users x {args.items:,} items, {args.dim} dims, top {args.k}, "
        f"mean history {args.history}, {os.cpu_count()} CPU cores, numpy {np.__version__}"
    )
    arrays = _arrays(args.items, args.dim, rng)
    scorer = Scorer(arrays)
    histories, times, disliked = _histories(args.users, args.items, args.history, rng)
    print(f"histories: {histories.nnz:,} entries")

    sides = ["floor", "ours"] + (["recommend_batch"] if args.recommend_batch else [])
    chunks = list(_chunks(histories, times, disliked, args.chunk))
    compare(arrays, scorer, chunks[:1], args.k, sides)  # warm-up: first-touch costs
    runs = []
    for _ in range(args.repeat):
        totals, lists = compare(arrays, scorer, chunks, args.k, sides)
        runs.append(totals)
    best = {side: np.min([r[side] for r in runs], axis=0) for side in sides}
    print(f"{'best of ' + str(args.repeat) + ' runs':<43} {'wall s':>8} {'CPU s':>7} users/s")
    for side in sides:
        wall, cpu = best[side]
        print(f"{NAMES[side]:<43} {wall:8.2f} {cpu:7.2f} {args.users / wall:7,.0f}")
    for side in sides[1:]:
        wall, cpu = best[side] / best["floor"]
        print(f"ratio {side} / floor: {wall:.2f}x wall, {cpu:.2f}x CPU (target: at most 1.5x)")
    assert len(lists) == args.users and all(len(v) == args.k for v in lists.values())

    if not args.no_redis:
        seconds, used = write(lists, args.chunk)
        print(
            f"Redis writes (cache.set_lists, pipelined): {seconds:8.2f} s wall  "
            f"({args.users / seconds:,.0f} lists/s, {used / 2**20:,.0f} MiB in Redis, "
            f"{used / args.users:,.0f} B per list of {args.k})"
        )
        print(f"total, ours + writes: {best['ours'][0] + seconds:.2f} s wall")
    if args.db:
        end_to_end(args, arrays, histories, times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
