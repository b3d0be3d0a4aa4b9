"""The admin's dashboard figures on large tables, next to a naive baseline that counts in Python.

Builds a throwaway PostgreSQL database (the test database of DATABASE_URL), fills it with SQL
(``generate_series``): users, items, tracked lists (Impression rows of 10 items each, four
placements, five model versions, half of them in an A/B experiment) and interactions over 90
days, a fifth of which carry a list's rec_id. Then times, median of 3 after a warm-up run:

* each figure of ``recommender.dashboard`` (grouped queries in the database), and the same figure
  computed the naive way (rows streamed to Python and counted there);
* whole admin pages through the test client, with their number of queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recommender \\
        python benchmarks/admin_dashboard.py [--interactions 1000000] [--impressions 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from recommender import dashboard  # noqa: E402
from recommender.conf import app_settings  # noqa: E402
from recommender.models import Experiment, Impression, Interaction, Item, ModelVersion  # noqa: E402

PLACEMENTS = "ARRAY['home', 'item', 'basket', 'search']"
EVENTS = "ARRAY['view', 'view', 'view', 'click', 'purchase', 'like']"


def seed(n_users: int, n_items: int, n_impressions: int, n_interactions: int) -> None:
    """Fill the tables with SQL; ids start at 1 in the fresh database."""
    versions = [
        ModelVersion.objects.create(algorithm="x.EASE", status="ready").pk for _ in range(5)
    ]
    experiment = Experiment.objects.create(
        name="bench",
        version_a_id=versions[0],
        version_b_id=versions[1],
        started_at=timezone.now() - timedelta(days=91),
    )
    with connection.cursor() as c:
        c.execute(
            "INSERT INTO testapp_member (password, is_superuser, email, is_staff, is_active)"
            " SELECT '!', false, 'u' || g || '@example.com', false, true"
            " FROM generate_series(1, %s) g",
            [n_users],
        )
        c.execute(
            "INSERT INTO recommender_item (external_id, title, description, properties,"
            " url, is_active, created_at, updated_at) SELECT 'i' || g, 'Item ' || g, '',"
            " '{}', '', g %% 50 <> 0, now(), now() FROM generate_series(1, %s) g",
            [n_items],
        )
        c.execute(
            "INSERT INTO recommender_impression (rec_id, user_id, placement, source,"
            " model_version_id, experiment_id, arm, item_ids, created_at)"
            f" SELECT md5(g::text), 1 + g %% %s, ({PLACEMENTS})[1 + g %% 4], 'computed',"
            " (%s::bigint[])[1 + g %% 5], CASE WHEN g %% 2 = 0 THEN %s END,"
            " CASE WHEN g %% 2 = 0 THEN (ARRAY['a', 'b'])[1 + g / 2 %% 2] ELSE '' END,"
            " (SELECT jsonb_agg('i' || (1 + (g * 7919 + k * k * 104729) %% %s))"
            "  FROM generate_series(1, 10) k),"
            " now() - (g %% 129600) * interval '1 minute' FROM generate_series(1, %s) g",
            [n_users, versions, experiment.pk, n_items, n_impressions],
        )
        c.execute(
            "INSERT INTO recommender_interaction (user_id, item_id, event_type, timestamp,"
            " rec_id, created_at)"
            f" SELECT 1 + (g * 31) %% %s, 1 + (g * 17) %% %s, ({EVENTS})[1 + g %% 6],"
            # An event on a list happens 30 seconds after the list was shown.
            " CASE WHEN g %% 5 = 0 THEN now() + interval '30 seconds'"
            "  - ((1 + (g / 5) %% %s) %% 129600) * interval '1 minute'"
            "  ELSE now() - (g %% 129600) * interval '1 minute' END,"
            " CASE WHEN g %% 5 = 0 THEN md5((1 + (g / 5) %% %s)::text) ELSE '' END, now()"
            " FROM generate_series(1, %s) g",
            [n_users, n_items, n_impressions, n_impressions, n_interactions],
        )
        c.execute("ANALYZE")


# -- the naive way: stream rows to Python and count there ----------------------------------


def naive_rates_by_placement(days: int) -> dict[str, tuple[int, int]]:
    clicked = set(
        Interaction.objects.exclude(rec_id="")
        .filter(event_type__in=app_settings.CLICK_EVENTS)
        .values_list("rec_id", flat=True)
        .iterator(chunk_size=20_000)
    )
    shown: Counter = Counter()
    hits: Counter = Counter()
    lists = Impression.objects.since(dashboard.window_start(days)).order_by()
    for rec_id, placement in lists.values_list("rec_id", "placement").iterator(chunk_size=20_000):
        shown[placement] += 1
        hits[placement] += rec_id in clicked
    return {p: (shown[p], hits[p]) for p in shown}


def naive_coverage(days: int) -> int:
    lists = Impression.objects.since(dashboard.window_start(days)).order_by()
    ids = {
        x
        for row in lists.values_list("item_ids", flat=True).iterator(chunk_size=20_000)
        for x in row
    }
    return Item.objects.active().filter(external_id__in=list(ids)).count()


def naive_interactions_per_day(days: int) -> Counter:
    rows = (
        Interaction.objects.since(dashboard.window_start(days))
        .order_by()
        .values_list("timestamp", "event_type")
    )
    return Counter((ts.date(), kind) for ts, kind in rows.iterator(chunk_size=20_000))


def naive_active_users(days: int) -> int:
    rows = (
        Interaction.objects.since(dashboard.window_start(days))
        .order_by()
        .values_list("user_id", flat=True)
    )
    return len(set(rows.iterator(chunk_size=20_000)))


# -- measuring -----------------------------------------------------------------------------


def median_seconds(fn, repeat: int = 3) -> float:
    fn()  # warm-up: caches, plans
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def figures(days: int) -> None:
    experiment = Experiment.objects.get()
    rows = [
        (
            "interactions per day, by type",
            lambda: dashboard.interactions_per_day(days),
            lambda: naive_interactions_per_day(days),
        ),
        ("active users", lambda: dashboard.active_users(days), lambda: naive_active_users(days)),
        ("active users per day", lambda: dashboard.active_users_per_day(days), None),
        (
            "catalogue coverage",
            lambda: dashboard.catalogue_coverage(days),
            lambda: naive_coverage(days),
        ),
        (
            "CTR/conversion per placement",
            lambda: dashboard.rates_by_placement(days),
            lambda: naive_rates_by_placement(days),
        ),
        ("CTR/conversion per version", lambda: dashboard.rates_by_version(days), None),
        ("experiment, per arm (all time)", lambda: dashboard.experiment_results(experiment), None),
    ]
    print(f"\nFigures over the last {days} days (seconds, median of 3)")
    print(f"{'figure':34} {'in the database':>16} {'naive Python':>13} {'ratio':>7}")
    for name, ours, naive in rows:
        a = median_seconds(ours)
        b = median_seconds(naive) if naive else None
        ratio = f"{b / a:6.1f}x" if b else ""
        print(f"{name:34} {a:16.3f} {(f'{b:.3f}' if b else '–'):>13} {ratio:>7}")
    placement_db = {r.key: (r.shown, r.clicked) for r in dashboard.rates_by_placement(days)}
    assert placement_db == naive_rates_by_placement(days), "the two ways disagree"
    assert dashboard.catalogue_coverage(days).shown == naive_coverage(days)


def pages() -> None:
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("bench@example.com", "pw")
    client = Client()
    client.force_login(staff)
    experiment = Experiment.objects.get()
    urls = [
        ("dashboard (30 days)", reverse("admin:recommender_dashboard")),
        ("dashboard (365 days)", reverse("admin:recommender_dashboard") + "?days=365"),
        ("interaction list", reverse("admin:recommender_interaction_changelist")),
        ("impression list", reverse("admin:recommender_impression_changelist")),
        ("model version list", reverse("admin:recommender_modelversion_changelist")),
        ("experiment page", reverse("admin:recommender_experiment_change", args=[experiment.pk])),
    ]
    print(f"\n{'admin page':34} {'seconds':>8} {'queries':>8}")
    for name, url in urls:
        seconds = median_seconds(lambda url=url: client.get(url))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        print(f"{name:34} {seconds:8.3f} {len(queries):8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--impressions", type=int, default=200_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the figures are about large tables).")
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    # Its own database, never the test suite's (which another run may be using).
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "recommender_bench_admin"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        seed(args.users, args.items, args.impressions, args.interactions)
        print(
            f"PostgreSQL {connection.pg_version // 10000}; seeded {args.users:,} users, "
            f"{args.items:,} items, {args.impressions:,} tracked lists and "
            f"{args.interactions:,} interactions in {time.perf_counter() - started:.1f} s"
        )
        figures(30)
        figures(90)
        pages()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
