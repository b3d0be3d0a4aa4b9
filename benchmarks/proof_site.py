"""Shared by load.py and faults.py: the site in production shape on loopback (gunicorn,
Celery workers, PostgreSQL, Redis) and an HTTP load that remembers every acknowledged event.

Call :func:`configure` before anything imports Django.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import worker_site  # noqa: E402

READS = ("recommendations", "similar", "popular")


def configure(database: str, redis_url: str | None = None, **recommender) -> None:
    """Environment of this process, of gunicorn and of the workers it starts."""
    if redis_url:
        os.environ["BENCH_REDIS_URL"] = redis_url
    worker_site.configure(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.proof_settings"
    os.environ["PROOF_RECOMMENDER"] = json.dumps(recommender)


def machine() -> str:
    memory = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return f"{os.cpu_count()} CPU cores, {int(memory) / 1024**2:.1f} GiB memory"


# -- the site ----------------------------------------------------------------------------------


@dataclass
class Site:
    users: list
    tokens: list[str]
    staff_token: str
    items: list[str]


def build(n_users: int, n_items: int, history: int, n_tokens: int = 500) -> Site:
    """A fresh database with users, items, histories, API tokens and a staff account."""
    worker_site.prepare()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    logging.getLogger("recommender").setLevel(logging.ERROR)  # outages are expected here
    users = worker_site.populate(n_users, n_items, history)
    people = users[:n_tokens]
    tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in people)
    staff = get_user_model().objects.create_superuser("proof-staff", "s@example.com", "pw")
    items = [f"item-{n}" for n in range(n_items)]
    return Site(people, [t.key for t in tokens], Token.objects.create(user=staff).key, items)


def start_worker(queue: str, name: str, log: Path) -> subprocess.Popen:
    """`celery -A project worker` as `make worker` runs it: the default queue on a prefork
    pool of 2, the training queue on a solo pool. Its own process group, so that a scenario
    can kill the worker with every child it forked."""
    celery = Path(sys.executable).with_name("celery")
    pool = ["-P", "solo"] if queue == "training" else ["-c", "2"]
    command = [
        str(celery),
        "-A",
        "project",
        "worker",
        "-Q",
        queue,
        *pool,
        "-n",
        f"{name}-{os.getpid()}@%h",
        "--loglevel=WARNING",
        *os.environ.get("PROOF_WORKER_FLAGS", "").split(),
    ]
    with log.open("a") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc.node = f"{name}-{os.getpid()}@"
    return proc


def wait_ready(proc: subprocess.Popen, timeout: float = 90) -> None:
    from project.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"a Celery worker exited with {proc.returncode}")
        try:
            answers = app.control.ping(timeout=0.5) or []
        except Exception:  # this process's broker connections died with a restarted Redis
            time.sleep(0.5)
            continue
        if any(name.startswith(proc.node) for answer in answers for name in answer):
            return
    sys.exit("a Celery worker did not answer in time")


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and everything it forked: no shutdown, no cleanup."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill(proc)


@contextmanager
def workers(log: Path):
    """The two workers of `make worker` (default and training queues), stopped afterwards."""
    procs = {q: start_worker(q, q, log) for q in ("celery", "training")}
    try:
        for proc in procs.values():
            wait_ready(proc)
        yield procs
    finally:
        for proc in procs.values():
            stop(proc)


def activate_and_refresh(version, timeout: float = 600) -> float:
    """Activate a version (the worker then refreshes every list); seconds until readers use it."""
    from recommender import cache, registry

    started = time.monotonic()
    registry.activate(version)
    worker_site.wait_for(
        lambda: cache.get_current_version() == version.pk,
        timeout,
        "the full refresh after activation",
    )
    return time.monotonic() - started


# -- load --------------------------------------------------------------------------------------


@dataclass
class Record:
    at: float
    op: str
    status: int  # 0: no answer (connection refused, reset or timed out)
    seconds: float
    source: str = ""
    version: int | None = None


@dataclass
class Results:
    records: list[Record] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    unacknowledged: set[str] = field(default_factory=set)
    seconds: float = 0.0


class Load:
    """Client threads, each with a keep-alive connection, sending a mix of reads and event
    batches as random users (API tokens) until a deadline or a request count."""

    def __init__(self, base_url: str, site: Site, mix: dict[str, float], seed: int = 0):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.site, self.mix, self.seed = site, mix, seed
        self.results = Results()
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.count = 0

    def run(self, seconds: float, max_requests: int, threads: int, during=None) -> Results:
        """Load for ``seconds`` (or ``max_requests``); ``during(elapsed)`` is called about
        every 0.1 s from this thread (to start a retrain, stop Redis...)."""
        self.started = time.monotonic()
        self.max_requests = max_requests
        pool = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(threads)
        ]
        for thread in pool:
            thread.start()
        while time.monotonic() - self.started < seconds and not self.stop_event.is_set():
            if during is not None:
                during(time.monotonic() - self.started)
            time.sleep(0.1)
        self.stop_event.set()
        for thread in pool:
            thread.join(timeout=30)
        self.results.seconds = time.monotonic() - self.started
        return self.results

    def _client(self, number: int) -> None:
        rng = random.Random(self.seed * 1000 + number)
        ops, weights = zip(*self.mix.items(), strict=True)
        conn, n = None, 0
        while not self.stop_event.is_set():
            with self.lock:
                if self.count >= self.max_requests:
                    self.stop_event.set()
                    return
                self.count += 1
            op = rng.choices(ops, weights)[0]
            conn = conn or http.client.HTTPConnection(self.host, self.port, timeout=10)
            n += 1
            try:
                self._send(conn, op, rng, f"load-{self.seed}-{number}-{n}")
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                time.sleep(0.05)

    def _send(self, conn, op: str, rng: random.Random, event_prefix: str) -> None:
        token = rng.choice(self.site.tokens)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        body, events = None, []
        if op == "recommendations":
            path = "/api/recommendations/?limit=10"
        elif op == "similar":
            path = f"/api/items/{rng.choice(self.site.items)}/similar/?limit=10"
        elif op == "popular":
            path = "/api/items/popular/?limit=10"
        else:
            path = "/api/interactions/"
            events = [
                {
                    "item": rng.choice(self.site.items),
                    "event_type": rng.choice(["view", "view", "click", "purchase"]),
                    "event_id": f"{event_prefix}-{k}",
                }
                for k in range(rng.randint(1, 3))
            ]
            body = json.dumps(events)
        began = time.monotonic()
        try:
            conn.request("POST" if events else "GET", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self._record(op, 0, began, {}, events)
            raise
        answer = json.loads(data) if data[:1] in (b"{", b"[") else {}
        self._record(op, response.status, began, answer, events)

    def _record(self, op, status, began, answer, events) -> None:
        now = time.monotonic()
        record = Record(began - self.started, op, status, now - began)
        if op in READS and status == 200:
            record.source, record.version = answer.get("source", ""), answer.get("model_version")
        with self.lock:
            self.results.records.append(record)
            if events:
                created = (
                    {c["event_id"] for c in answer.get("created", [])}
                    if status in (200, 201)
                    else set()
                )
                self.results.acknowledged |= created
                self.results.unacknowledged |= {e["event_id"] for e in events} - created


def missing_events(acknowledged: set[str]) -> set[str]:
    """The acknowledged event ids that are not in the database."""
    from recommender.models import Interaction

    ids, found = sorted(acknowledged), set()
    for start in range(0, len(ids), 5000):
        found |= set(
            Interaction.objects.filter(event_id__in=ids[start : start + 5000]).values_list(
                "event_id", flat=True
            )
        )
    return acknowledged - found


# -- reporting ---------------------------------------------------------------------------------


def summary(results: Results) -> list[str]:
    """Requests per second, p50/p99 per operation and answers by status."""
    records = results.records
    lines = [
        f"{len(records):,} requests in {results.seconds:.1f} s: "
        f"{len(records) / max(results.seconds, 1e-9):,.1f} requests/s"
    ]
    by_op = defaultdict(list)
    for r in records:
        by_op[r.op].append(r)
    for op, rows in sorted(by_op.items()):
        ok = np.array([r.seconds for r in rows if 200 <= r.status < 300]) * 1000
        p50, p99 = np.percentile(ok, [50, 99]) if len(ok) else (float("nan"),) * 2
        statuses = Counter(r.status for r in rows)
        lines.append(
            f"  {op:<16} {len(rows):>7,} requests  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
            f"  status {dict(sorted(statuses.items()))}"
        )
    statuses = Counter(r.status for r in records)
    errors = {s: n for s, n in statuses.items() if s == 0 or s >= 400}
    lines.append(
        f"  errors by status: {dict(sorted(errors.items())) or 'none'} "
        f"(0 = no answer); 5xx: {sum(n for s, n in statuses.items() if s >= 500)}"
    )
    return lines


def timeline(results: Results, step: float) -> list[str]:
    """What users saw, per time slice: answers by status and where their lists came from."""
    slices = defaultdict(list)
    for r in results.records:
        slices[int(r.at // step)].append(r)
    lines = []
    for index in sorted(slices):
        rows = slices[index]
        statuses = Counter(r.status for r in rows)
        sources = Counter(
            f"{r.source}{'' if r.version is None else f' v{r.version}'}"
            for r in rows
            if r.op == "recommendations" and r.source
        )
        lines.append(
            f"  {index * step:5.0f}-{(index + 1) * step:<4.0f}s "
            f"{len(rows):>6,} req  status {dict(sorted(statuses.items()))}  "
            f"lists {dict(sorted(sources.items()))}"
        )
    return lines


class Monitor:
    """Notes, every 0.25 s from its own thread, the model versions' states, the version whose
    lists readers use and a full refresh in progress; prints each change with its time."""

    def __init__(self, started: float):
        self.started, self.events, self.stop_event = started, [], threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(timeout=10)

    def _state(self):
        from recommender import cache
        from recommender.models import ModelVersion

        versions = tuple(
            ModelVersion.objects.order_by("pk").values_list("pk", "status", "is_active")
        )
        return versions, cache.get_current_version(), cache.get_value("refreshing:default")

    def _watch(self) -> None:
        from django.db import connection

        last = None
        try:
            while not self.stop_event.is_set():
                try:
                    state = self._state()
                except Exception as exc:  # the database itself may be what a scenario breaks
                    state = ("unreadable", type(exc).__name__)
                if state != last:
                    self.events.append((time.monotonic() - self.started, state))
                    last = state
                time.sleep(0.25)
        finally:
            connection.close()

    def lines(self) -> list[str]:
        out = []
        for at, state in self.events:
            if state[0] == "unreadable":
                out.append(f"  {at:6.1f} s  state unreadable ({state[1]})")
                continue
            versions, current, pending = state
            shown = ", ".join(
                f"v{pk} {status}{' (active)' if active else ''}" for pk, status, active in versions
            )
            out.append(
                f"  {at:6.1f} s  {shown}; readers use v{current}; "
                f"full refresh in progress: {f'v{pending}' if pending else 'none'}"
            )
        return out
