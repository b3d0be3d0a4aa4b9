"""From the POST of an interaction to that user's refreshed list in Redis, with a real worker.

    python benchmarks/event_latency.py [--users 5000] [--items 20000] [--dim 300]
        [--events 100] [--debounce 1.0 0.25] [--gap 0.3]

Builds a fresh PostgreSQL database (BENCH_DATABASE_URL, default .../recommender_bench_events)
with synthetic users, items and views, and a ready version with the autoencoder's shapes
(hidden ``--dim``, random weights: no training, no TensorFlow). Starts ``celery -A project
worker -Q celery -c 2`` (what ``make worker`` runs for refreshes) on Redis
(BENCH_REDIS_URL, default db 10, emptied), activates the version (the worker runs
``refresh_all``: chunks, then the pointer switch) and waits for every list.

Then, one event at a time, ``--gap`` seconds apart, each to a different user: a staff client
POSTs a purchase to ``/api/interactions/`` (Django's test client through the whole WSGI
stack: middleware, DRF, the database commit, the on-commit enqueue) and the script polls
Redis every 2 ms until that user's list carries a newer timestamp. Reported per debounce
setting (REFRESH_DEBOUNCE_SECONDS, the wait before a refresh that lets a burst of events
cost one): p50, p95 and max of POST -> refreshed list, and of the POST alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks import worker_site  # noqa: E402


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--debounce", type=float, nargs="+", default=[1.0, 0.25])
    parser.add_argument("--gap", type=float, default=0.3)
    return parser.parse_args()


def _staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    staff = get_user_model().objects.create_superuser("bench-staff", "s@example.com", "pw")
    token = Token.objects.create(user=staff)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def _measure(client, version_id, users, rng, args):
    from django.conf import settings

    from recommender import cache
    from recommender.conf import app_settings

    settings.RECOMMENDER = {**settings.RECOMMENDER, "REFRESH_DEBOUNCE_SECONDS": args.debounce_now}
    app_settings.reload()
    warm = json.dumps({"item": "item-0", "event_type": "view", "user": users[0].pk})
    client.post("/api/interactions/", warm, content_type="application/json")  # first-call costs
    time.sleep(args.gap + args.debounce_now)
    total, posts = [], []
    for user in users:
        item = f"item-{int(rng.integers(args.items))}"
        body = json.dumps({"item": item, "event_type": "purchase", "user": user.pk})
        start = time.time()
        response = client.post("/api/interactions/", body, content_type="application/json")
        posted = time.time()
        assert response.status_code == 201, response.content
        worker_site.wait_for(
            lambda u=user, t=start: (cache.get_list(version_id, u.pk) or {}).get("at", 0) > t,
            30,
            f"user {user.pk}'s refreshed list",
        )
        total.append(time.time() - start)
        posts.append(posted - start)
        time.sleep(args.gap)
    return np.array(total), np.array(posts)


def _row(name: str, seconds: np.ndarray) -> str:
    p50, p95 = np.percentile(seconds, [50, 95])
    return (
        f"{name:<34} p50 {p50 * 1000:7.0f} ms  p95 {p95 * 1000:7.0f} ms  "
        f"max {seconds.max() * 1000:7.0f} ms"
    )


def main() -> int:
    args = _parse()
    worker_site.configure("recommender_bench_events", redis_db=10)
    worker_site.prepare()
    from recommender import cache, registry

    rng = np.random.default_rng(1)
    users = worker_site.populate(args.users, args.items, args.history)
    version = worker_site.make_version(args.dim)
    client = _staff_client()
    print(
        f"{args.users:,} users, {args.items:,} items, hidden {args.dim}, "
        f"{args.events} events {args.gap} s apart, worker: -Q celery -c 2 (prefork)"
    )
    with worker_site.celery_worker(concurrency=2):
        start = time.time()
        registry.activate(version)
        worker_site.wait_for(
            lambda: cache.get_current_version() == version.pk, 600, "the full refresh"
        )
        print(
            f"full refresh by the worker (refresh_all, chunks of 2,000): "
            f"{time.time() - start:.1f} s for {args.users:,} users"
        )
        chosen = rng.choice(len(users), size=args.events * len(args.debounce), replace=False)
        for n, debounce in enumerate(args.debounce):
            args.debounce_now = debounce
            group = [users[i] for i in chosen[n * args.events : (n + 1) * args.events]]
            total, posts = _measure(client, version.pk, group, rng, args)
            print(_row(f"debounce {debounce:g} s: POST -> list", total))
            print(_row(f"debounce {debounce:g} s: POST alone", posts))
            print(
                f"{'':<34} after the debounce: p95 {np.percentile(total, 95) - debounce:.3f} s"
                f" (target: POST -> list p95 under 2 s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
