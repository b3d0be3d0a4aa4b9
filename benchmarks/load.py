"""Mixed load on the whole site while a full refresh and a retrain run; no acknowledged event lost.

    python benchmarks/load.py [--seconds 60] [--max-requests 100000] [--threads 8]
        [--users 2000] [--items 2000] [--history 20] [--workers 2] [--worker-threads 4]
        [--retrain-at 3] [--wait 600]

Builds a fresh PostgreSQL database (BENCH_DATABASE_URL, default .../recommender_bench_load)
with synthetic users, items and views, and an active version with the autoencoder's shapes
(random weights) whose lists the Celery worker writes first. Serves the demo project in
production shape (DEBUG off, django-redis on BENCH_REDIS_URL, default db 11, emptied) with
gunicorn (gthread) on 127.0.0.1, with `make worker`'s two Celery workers (default queue,
prefork 2; training queue, solo). Client threads then send, as 500 token-authenticated users,
45% GET /api/recommendations/, 15% GET /api/items/<id>/similar/, 15% GET
/api/items/popular/ and 25% POST /api/interactions/ (1-3 events, each with its own event_id),
for --seconds or --max-requests. At --retrain-at seconds a staff client POSTs
/api/models/train/ (a real training run of the default backend on the worker, activated if it
beats popularity, which then refreshes every list) and a refresh_all of the active version is
sent. Prints requests/s, p50/p99 per operation, answers by status (target: no 5xx), the
timeline of versions and refreshes, then checks that every event acknowledged with a 201 is
in the database. Exits 1 on a 5xx or a lost event.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import proof_site, worker_site  # noqa: E402

MIX = {"recommendations": 0.45, "similar": 0.15, "popular": 0.15, "events": 0.25}


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8, help="client connections")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--retrain-at", type=float, default=3.0)
    parser.add_argument("--wait", type=float, default=600, help="for the retrain to finish")
    return parser.parse_args()


def post_train(base_url: str, token: str) -> int:
    """Start a retrain through the API, as an operator would; returns the queued version id."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(
        "POST",
        "/api/models/train/",
        body="{}",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    if response.status != 202:
        sys.exit(f"POST /api/models/train/ answered {response.status}: {body}")
    return body["id"]


def _wait_for_retrain(version_id: int, timeout: float) -> str:
    from recommender import cache
    from recommender.models import ModelVersion

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = ModelVersion.objects.get(pk=version_id)
        if version.status in ("ready", "failed"):
            if version.is_active:
                worker_site.wait_for(
                    lambda: cache.get_current_version() == version_id,
                    max(1.0, deadline - time.monotonic()),
                    "readers to switch to the retrained version",
                )
            return f"v{version_id} {version.status}, active: {version.is_active}; {version.note}"
        time.sleep(0.5)
    return f"v{version_id} still {ModelVersion.objects.get(pk=version_id).status} after the wait"


def main() -> int:
    args = _parse()
    proof_site.configure("recommender_bench_load")
    site = proof_site.build(args.users, args.items, args.history)
    from benchmarks import bench_server
    from recommender import tasks

    print(
        f"{proof_site.machine()}; {args.users:,} users, {args.items:,} items; gunicorn "
        f"{args.workers} workers x {args.worker_threads} threads; {args.threads} client "
        f"connections; workers: -Q celery -c 2, -Q training -P solo"
    )
    log = Path("/tmp/recommender_bench_load.workers.log")
    with proof_site.workers(log):
        first = worker_site.make_version(64)
        print(
            f"initial full refresh of v{first.pk}: {proof_site.activate_and_refresh(first):.1f} s"
        )
        with bench_server.serve(args.workers, args.worker_threads) as url:
            load = proof_site.Load(url, site, MIX)
            started = {}

            def during(elapsed: float) -> None:
                if elapsed >= args.retrain_at and not started:
                    started["retrain"] = post_train(url, site.staff_token)
                    tasks.refresh_all.delay(first.pk)
                    started["at"] = elapsed

            t0 = time.monotonic()
            with proof_site.Monitor(t0) as monitor:
                results = load.run(args.seconds, args.max_requests, args.threads, during)
                retrain = _wait_for_retrain(started["retrain"], args.wait)
        print(
            f"retrain v{started['retrain']} queued at {started['at']:.1f} s "
            f"(and refresh_all of v{first.pk}); after the load: {retrain}"
        )
    for line in proof_site.summary(results):
        print(line)
    print("timeline (10 s slices): answers by status, and the source of /recommendations/ lists")
    for line in proof_site.timeline(results, 10):
        print(line)
    print("versions and refreshes, as they changed:")
    for line in monitor.lines():
        print(line)
    missing = proof_site.missing_events(results.acknowledged)
    print(
        f"events acknowledged (201): {len(results.acknowledged):,}; in the database: "
        f"{len(results.acknowledged) - len(missing):,}; missing: {len(missing)}; "
        f"not acknowledged: {len(results.unacknowledged)}"
    )
    server_errors = sum(1 for r in results.records if r.status >= 500)
    return 1 if missing or server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
