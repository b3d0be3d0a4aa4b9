"""Shared by the worker benchmarks: a fresh PostgreSQL database with synthetic users, items,
interactions and a model version, and a real Celery worker subprocess.

Call :func:`configure` before anything imports Django. The Redis database (BENCH_REDIS_URL,
default the one the benchmark names) must be empty or one these benchmarks used before: it
is emptied.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MARKER = "recommender-benchmarks-own-this-db"


def configure(database: str, redis_db: int = 11) -> None:
    """Environment of this process and of the workers it starts. Benchmarks that may run at
    the same time use different databases and Redis databases (a worker of one would take
    the other's tasks)."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{database}"
    )
    os.environ["REDIS_URL"] = os.environ.get(
        "BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}"
    )
    os.environ["MEDIA_ROOT"] = os.environ.get("BENCH_MEDIA_ROOT", f"/tmp/{database}-media")
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.worker_settings"
    os.environ["PYTHONPATH"] = str(ROOT)


def claim_redis() -> None:
    """Empty the benchmarks' Redis database, refusing one that others' keys live in."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    if client.dbsize() and not client.exists(MARKER):
        sys.exit(
            f"{os.environ['REDIS_URL']} holds keys these benchmarks did not write; "
            "point BENCH_REDIS_URL at an empty Redis database."
        )
    client.flushdb()
    client.set(MARKER, 1)


def prepare() -> None:
    """Recreate the database, migrate it, empty the benchmarks' Redis database."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    admin = psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"],
        dbname="postgres",
        autocommit=True,
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
    admin.close()
    claim_redis()

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def populate(n_users: int, n_items: int, mean_history: int, seed: int = 0) -> list:
    """Users, items and interactions (popular items more likely); returns the users."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from recommender.models import Interaction, Item

    rng = np.random.default_rng(seed)
    User = get_user_model()
    password = make_password(None)
    User.objects.bulk_create(
        [User(username=f"user{n}", password=password) for n in range(n_users)], batch_size=5000
    )
    Item.objects.bulk_create(
        [Item(external_id=f"item-{n}", title=f"Item {n}") for n in range(n_items)], batch_size=5000
    )
    users = list(User.objects.order_by("pk"))
    item_pks = np.array(Item.objects.order_by("pk").values_list("pk", flat=True))
    p = rng.pareto(1.2, n_items) + 1e-3
    p /= p.sum()
    rows = []
    for user in users:
        for pk in rng.choice(item_pks, size=max(1, int(rng.geometric(1 / mean_history))), p=p):
            rows.append(Interaction(user=user, item_id=int(pk), event_type="view"))
    Interaction.objects.bulk_create(rows, batch_size=10_000)
    return users


def make_version(dim: int, seed: int = 0):
    """A ready, inactive version whose arrays have the autoencoder's shapes (random weights:
    serving cost depends on the shapes, not the values); no TensorFlow involved."""
    from recommender.models import Item

    rng = np.random.default_rng(seed)
    keys = np.array(Item.objects.order_by("pk").values_list("pk", flat=True), np.int64)
    n = len(keys)
    arrays = {
        "item_keys": keys,
        "popularity": rng.pareto(1.5, n).astype(np.float32),
        "model_kind": np.array("autoencoder"),
        "encoder_kernel": rng.normal(0, 0.05, (n, dim)).astype(np.float32),
        "encoder_bias": np.zeros(dim, np.float32),
        "decoder_kernel": rng.normal(0, 0.05, (dim, n)).astype(np.float32),
        "decoder_bias": rng.normal(0, 0.1, n).astype(np.float32),
        "recency_half_life": np.float32(0.1),
        "recency_floor": np.float32(0.0),
    }
    return store_version(arrays)


def store_version(arrays: dict[str, np.ndarray]):
    """A ready, inactive version serving ``arrays`` (saved to the artifact storage)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from recommender.ml.artifacts import save_arrays
    from recommender.models import ModelVersion

    n = len(arrays["item_keys"])
    version = ModelVersion.objects.create(algorithm="benchmark", status="ready")
    path = Path(os.environ["MEDIA_ROOT"]) / "bench.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    version.artifact_sha256 = save_arrays(arrays, path)
    name = storages["default"].save(
        f"recommender/models/v{version.pk}.npz", ContentFile(path.read_bytes())
    )
    version.artifact.name = name
    version.n_items = n
    version.save()
    return version


@contextmanager
def celery_worker(concurrency: int = 2):
    """`celery -A project worker` on the default queue, as `make worker` runs it."""
    from project.celery import app

    celery = Path(sys.executable).with_name("celery")
    command = [str(celery), "-A", "project", "worker", "-Q", "celery", "-c", str(concurrency)]
    command += ["-n", f"bench-{os.getpid()}@%h", "--loglevel=WARNING"]
    log = Path(os.environ["MEDIA_ROOT"]).with_suffix(".worker.log")
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the Celery worker did not start; see {log}")
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.002)
    sys.exit(f"timed out waiting for {what}")
