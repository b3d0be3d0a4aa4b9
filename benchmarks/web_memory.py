"""Memory of a web process after 1,000 recommendation requests; TensorFlow must stay out.

    python benchmarks/web_memory.py [--requests 1000] [--users 2000] [--items 20000]
        [--dim 300] [--uncached 0.25]

Builds a fresh PostgreSQL database (BENCH_DATABASE_URL, default .../recommender_bench_web)
with synthetic users, items and views and an active version with the autoencoder's shapes
(hidden ``--dim``, random weights), writes every user's list to Redis (BENCH_REDIS_URL,
default db 9, emptied) and then drops the lists of a ``--uncached`` share of the users, so
those requests score on the fly from the exported arrays.

Then a fresh Python process, the "web process", sets Django up the way a WSGI server does and
serves the requests through Django's WSGI handler (the test client: middleware, DRF,
serializers), as a staff client asking ``/api/users/<id>/recommendations/?limit=10`` for
users in turn. It prints its resident set size (VmRSS) after setup, after the first request
and after the last, its peak (VmHWM), the sources that answered, and whether ``tensorflow``
is in ``sys.modules`` (it fails if it is).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks import worker_site  # noqa: E402


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--uncached", type=float, default=0.25)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def _memory() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def serve(n_requests: int) -> dict:
    """The web process: set up, answer requests, report memory and modules."""
    setup_start = time.perf_counter()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff = get_user_model().objects.get(username="bench-staff")
    ids = list(get_user_model().objects.exclude(pk=staff.pk).values_list("pk", flat=True))
    client = Client(HTTP_AUTHORIZATION=f"Token {staff.auth_token.key}")
    report = {"after_setup": _memory(), "setup_s": time.perf_counter() - setup_start}
    sources: dict[str, int] = {}
    start = time.perf_counter()
    for n in range(n_requests):
        response = client.get(f"/api/users/{ids[n % len(ids)]}/recommendations/?limit=10")
        assert response.status_code == 200, response.content[:300]
        source = response.json()["source"]
        sources[source] = sources.get(source, 0) + 1
        if n == 0:
            report["after_first"] = _memory()
    report["seconds"] = time.perf_counter() - start
    report["after_all"] = _memory()
    report["sources"] = sources
    report["tensorflow_imported"] = "tensorflow" in sys.modules
    report["modules"] = len(sys.modules)
    return report


def _prepare(args) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from recommender import cache, refresh, registry

    users = worker_site.populate(args.users, args.items, args.history)
    version = worker_site.make_version(args.dim)
    registry.activate(version)  # its refresh_all task is purged below: this script runs it
    from project.celery import app

    app.control.purge()
    refresh.refresh_all(version.pk)
    rng = np.random.default_rng(2)
    dropped = rng.choice(len(users), size=int(args.uncached * len(users)), replace=False)
    for i in dropped:
        cache.delete_user(users[i].pk, [version.pk])
    staff = get_user_model().objects.create_superuser("bench-staff", "s@example.com", "pw")
    Token.objects.create(user=staff)


def main() -> int:
    args = _parse()
    worker_site.configure("recommender_bench_web", redis_db=9)
    if args.serve:
        print(json.dumps(serve(args.requests)))
        return 0
    worker_site.prepare()
    _prepare(args)
    from django.db import connections

    connections.close_all()
    done = subprocess.run(
        [sys.executable, __file__, "--serve", "--requests", str(args.requests)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=1800,
    )
    if done.returncode:
        sys.exit(f"the web process failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"{args.users:,} users, {args.items:,} items, hidden {args.dim}, "
        f"{args.requests:,} requests, {args.uncached:.0%} of users without a cached list"
    )
    print(
        f"web process RSS after setup:          {report['after_setup']['VmRSS']:7.1f} MiB "
        f"(setup {report['setup_s']:.1f} s)"
    )
    print(f"web process RSS after 1 request:      {report['after_first']['VmRSS']:7.1f} MiB")
    print(
        f"web process RSS after {args.requests:,} requests: "
        f"{report['after_all']['VmRSS']:7.1f} MiB (peak {report['after_all']['VmHWM']:.1f} MiB)"
    )
    print(
        f"answers by source: {report['sources']}, "
        f"{args.requests / report['seconds']:.0f} requests/s in one thread"
    )
    print(
        f"tensorflow in sys.modules: {report['tensorflow_imported']} "
        f"({report['modules']} modules loaded)"
    )
    if report["tensorflow_imported"]:
        sys.exit("FAIL: the web process imported TensorFlow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
