"""POST /api/interactions/ with batches of 1,000 events against a bare bulk_create of the same rows.

Both run on PostgreSQL in the same run, interleaved batch by batch: the API through gunicorn
on loopback (HTTP, JSON, token authentication, per-event validation, idempotency check by
event_id, one atomic insert, the refresh hook), the baseline as
``Interaction.objects.bulk_create`` of already-built rows with the same users, items, event
types, timestamps and event ids, in this process. Prints events per second of both and the
ratio. Two API cases: a client sending its signed-in user's events, and a staff token sending
events of many users (each batch names 1,000 users, so it also schedules their refreshes).

    python benchmarks/ingest.py [--batches 20] [--batch-size 1000] [--items 5000]

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/recommender_bench;
the database is recreated) and Redis (REDIS_URL, default redis://127.0.0.1:6379/13; that
database is flushed). No Celery worker runs: refresh tasks wait in the broker.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/recommender_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.site_settings"

from benchmarks.bench_server import prepare_database, serve  # noqa: E402

EVENTS = ["view", "view", "view", "click", "like", "add_to_cart", "purchase"]


def build_site(items: int, users: int):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from recommender.models import Item

    made = Item.objects.bulk_create(
        Item(external_id=f"sku-{n}", title=f"Item {n}") for n in range(items)
    )
    User = get_user_model()
    people = User.objects.bulk_create(User(username=f"user{n}") for n in range(users))
    staff = User.objects.create_user("staff", is_staff=True)
    return (
        made,
        people,
        Token.objects.create(user=people[0]).key,
        Token.objects.create(user=staff).key,
    )


def make_batch(rng, label: str, size: int, items, users) -> list[dict]:
    """One batch of events: {item, event_type, timestamp, event_id[, user]} (users: pks)."""
    from django.utils import timezone

    now = timezone.now()
    return [
        {
            "item": rng.choice(items).external_id,
            "event_type": rng.choice(EVENTS),
            "timestamp": (now - timedelta(minutes=rng.randint(1, 50_000))).isoformat(),
            "event_id": f"{label}-{n}",
            **({"user": rng.choice(users).pk} if users else {}),
        }
        for n in range(size)
    ]


def post(session, base: str, token: str, batch: list[dict]) -> float:
    started = time.perf_counter()
    response = session.post(
        f"{base}/api/interactions/",
        json=batch,
        headers={"Authorization": f"Token {token}"},
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text[:500]
    assert len(response.json()["created"]) == len(batch), "every event is new"
    return elapsed


def bare(batch: list[dict], by_ext: dict, users: dict, default_user) -> float:
    from django.utils.dateparse import parse_datetime

    from recommender.models import Interaction

    rows = [
        Interaction(
            user=users.get(e.get("user"), default_user),
            item=by_ext[e["item"]],
            event_type=e["event_type"],
            timestamp=parse_datetime(e["timestamp"]),
            event_id=e["event_id"],
        )
        for e in batch
    ]
    started = time.perf_counter()
    Interaction.objects.bulk_create(rows)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()

    import requests

    prepare_database()
    from recommender.models import Interaction

    items, people, user_token, staff_token = build_site(args.items, args.users)
    by_ext = {i.external_id: i for i in items}
    users = {u.pk: u for u in people}
    rng = random.Random(0)
    cases = {
        "signed-in user's events": (user_token, None),
        "staff, events of many users": (staff_token, people),
    }
    times: dict[str, list[float]] = {f"POST /api/interactions/ ({c})": [] for c in cases}
    times.update({f"bare bulk_create ({c})": [] for c in cases})
    with serve(workers=2, threads=1) as base, requests.Session() as session:
        post(session, base, user_token, make_batch(rng, "warm", 50, items, None))
        for n in range(args.batches):
            for case, (token, senders) in cases.items():
                batch = make_batch(rng, f"api-{case[:5]}-{n}", args.batch_size, items, senders)
                times[f"POST /api/interactions/ ({case})"].append(post(session, base, token, batch))
                batch = make_batch(rng, f"bare-{case[:5]}-{n}", args.batch_size, items, senders)
                times[f"bare bulk_create ({case})"].append(bare(batch, by_ext, users, people[0]))
    report(args, times, Interaction.objects.count())


def report(args, times: dict[str, list[float]], stored: int) -> None:
    print(
        f"PostgreSQL, {args.batches} interleaved batches of {args.batch_size} events per row "
        f"(median batch); gunicorn 2 workers x 1 thread; CPUs: {os.cpu_count()}"
    )
    print(f"{'':52} {'events/s':>10} {'ms/batch':>9}")
    rates = {}
    for name, runs in times.items():
        median = statistics.median(runs)
        rates[name] = args.batch_size / median
        print(f"{name:52} {rates[name]:10.0f} {median * 1000:9.1f}")
    for case in ("signed-in user's events", "staff, events of many users"):
        api, floor = times[f"POST /api/interactions/ ({case})"], times[f"bare bulk_create ({case})"]
        ratio = rates[f"POST /api/interactions/ ({case})"] / rates[f"bare bulk_create ({case})"]
        # Each API batch ran next to a bare one: on a machine whose speed drifts, the ratio
        # within each pair is the steadier figure.
        paired = statistics.median(b / a for a, b in zip(api, floor, strict=True))
        print(
            f"API / bare bulk_create, {case}: {ratio:.0%} of the medians, {paired:.0%} median "
            "of the interleaved pairs (target: at least 70%)"
        )
    print(f"rows stored: {stored}")


if __name__ == "__main__":
    main()
