"""Cached GET /api/recommendations/ against the framework's floor, on one gunicorn server.

The floor is a minimal authenticated DRF endpoint (token authentication, the API's
throttles, a one-key JSON body) served by the same gunicorn in the same run. wrk, a separate
process, loads each in turn with token-authenticated requests rotating over many users whose
lists are in Redis (as a refresh leaves them); every recommendations answer also records its
impression. Prints requests per second and p50/p99 latency of both, and their ratio; and
the server's CPU time per request of both (gunicorn, PostgreSQL and Redis, from /proc), a
steadier view of the same comparison on a noisy machine.

    python benchmarks/api_throughput.py [--users 500] [--items 2000] [--seconds 4]
        [--rounds 24] [--warmup 8] [--workers 2] [--threads 2] [--connections 8] [--limit 10]

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/recommender_bench;
the database is recreated) and Redis (REDIS_URL, default redis://127.0.0.1:6379/13; that
database is flushed), and wrk (Debian: apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/recommender_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.site_settings"

from benchmarks.bench_server import (  # noqa: E402
    prepare_database,
    serve,
    server_cpu_seconds,
)

LUA = """
local tokens = {%(tokens)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "%(path)s", {["Authorization"] = "Token " .. tokens[(n %% #tokens) + 1]})
end
"""


def build_site(users: int, items: int, list_length: int = 100) -> list[str]:
    """A catalogue, users with API tokens, and every user's list cached for an active version."""
    import random

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from recommender import cache
    from recommender.models import Category, Item, ModelVersion

    rng = random.Random(0)
    cats = [Category.objects.create(name=f"Category {n}") for n in range(20)]
    made = Item.objects.bulk_create(
        Item(external_id=f"sku-{n}", title=f"Item {n}", url=f"/items/sku-{n}/")
        for n in range(items)
    )
    Item.categories.through.objects.bulk_create(
        Item.categories.through(item_id=item.pk, category_id=cats[n % 20].pk)
        for n, item in enumerate(made)
    )
    User = get_user_model()
    people = User.objects.bulk_create(User(username=f"user{n}") for n in range(users))
    tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in people)
    version = ModelVersion.objects.create(algorithm="bench", status="ready", is_active=True)
    pks = [i.pk for i in made]
    lists = {
        u.pk: [(pk, 1.0 - r / list_length) for r, pk in enumerate(rng.sample(pks, list_length))]
        for u in people
    }
    assert cache.set_lists(version.pk, lists) and cache.set_current_version(version.pk)
    return [t.key for t in tokens]


def run_wrk(url: str, path: str, tokens: list[str], seconds: int, connections: int) -> dict:
    script = LUA % {"tokens": ",".join(f'"{t}"' for t in tokens), "path": path}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", fh.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
    return parse_wrk(out)


def parse_wrk(out: str) -> dict:
    def grab(pattern: str) -> str:
        found = re.search(pattern, out, re.M)
        if found is None:
            sys.exit(f"unexpected wrk output (no {pattern!r}):\n{out}")
        return found.group(1)

    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(grab(r"Requests/sec:\s+([\d.]+)")),
        "p50": ms(grab(r"^\s+50%\s+(\S+)\s*$")),
        "p99": ms(grab(r"^\s+99%\s+(\S+)\s*$")),
        "requests": int(grab(r"(\d+) requests in")),
        "bad": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def check_answers(base: str, token: str) -> None:
    import requests

    headers = {"Authorization": f"Token {token}"}
    floor = requests.get(f"{base}/bench/floor/", headers=headers, timeout=10)
    recs = requests.get(f"{base}/api/recommendations/?limit=10", headers=headers, timeout=10)
    assert floor.status_code == 200, floor.text
    assert recs.status_code == 200 and recs.json()["source"] == "cached", recs.text[:500]
    assert len(recs.json()["results"]) == 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument(
        "--warmup",
        type=int,
        default=8,
        help="seconds of warm-up load per endpoint (long enough for every worker to meet "
        "every user's list once: a web process keeps the items it served, as in production)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    prepare_database()
    tokens = build_site(args.users, args.items)
    recs = f"/api/recommendations/?limit={args.limit}"
    recs_name = f"GET {recs} (cached)"
    endpoints = {"floor (minimal DRF endpoint)": "/bench/floor/", recs_name: recs}
    results: dict[str, list[dict]] = {name: [] for name in endpoints}
    with serve(args.workers, args.threads, args.connections) as base:
        check_answers(base, tokens[0])
        warm = {  # warm-up: connections, imports, and each process's item store
            name: run_wrk(base, path, tokens, args.warmup, args.connections)
            for name, path in endpoints.items()
        }
        # Short rounds in ABBA order: on a shared machine whose speed drifts, each round's
        # pair meets nearly the same conditions, so their ratio is what is compared.
        for n in range(args.rounds):
            order = list(endpoints.items())
            for name, path in order if n % 2 == 0 else order[::-1]:
                before = server_cpu_seconds(base)
                run = run_wrk(base, path, tokens, args.seconds, args.connections)
                run["cpu_ms"] = (server_cpu_seconds(base) - before) / run["requests"] * 1e3
                results[name].append(run)
    # Every list served (the check's, the warm-up's and the rounds') should be an impression.
    served = 1 + sum(run["requests"] for run in [*results[recs_name], warm[recs_name]])
    report(args, results, served)


def report(args, results: dict[str, list[dict]], served: int) -> None:
    from recommender.models import Impression

    print(
        f"gunicorn: {args.workers} workers x {args.threads} threads (gthread, connections shared "
        f"evenly); wrk: 1 thread, "
        f"{args.connections} connections, {args.rounds} rounds of {args.seconds} s each "
        f"(medians, ABBA order); {args.users} users, {args.items} items; CPUs: {os.cpu_count()}"
    )
    print(
        f"{'endpoint':52} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
        f"{'CPU ms/req':>10}"
    )
    medians = {}
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        medians[name] = rps
        print(
            f"{name:52} {rps:9.0f} {statistics.median(r['p50'] for r in runs):8.2f} "
            f"{statistics.median(r['p99'] for r in runs):8.2f} "
            f"{sum(r['bad'] for r in runs):8d} "
            f"{statistics.median(r['cpu_ms'] for r in runs):10.2f}"
        )
        for r in runs:
            if r["socket_errors"]:
                print(f"  socket errors: {r['socket_errors']}")
    floor_runs, recs_runs = results.values()
    ratios = [r["rps"] / f["rps"] for f, r in zip(floor_runs, recs_runs, strict=True)]
    floor, recs = medians.values()
    print(f"ratio of the medians: {recs / floor:.0%}")
    print(f"ratio per round, in order: {', '.join(f'{r:.0%}' for r in ratios)}")
    print(
        f"recommendations / floor throughput, median of the rounds' ratios: "
        f"{statistics.median(ratios):.0%} (target: at least 80%)"
    )
    cpu = [f["cpu_ms"] / r["cpu_ms"] for f, r in zip(floor_runs, recs_runs, strict=True)]
    print(
        "server CPU per request (gunicorn + PostgreSQL + Redis), floor / recommendations, "
        f"median of the rounds: {statistics.median(cpu):.0%} (the throughput ratio a CPU-bound "
        "server tends to)"
    )
    print(
        f"impressions recorded: {Impression.objects.count()}; lists served: {served} "
        "(wrk counts the answers it read before each run ended)"
    )


if __name__ == "__main__":
    main()
