"""Shared by the HTTP benchmarks: a fresh PostgreSQL database and a gunicorn server on loopback.

The caller sets DATABASE_URL, REDIS_URL and DJANGO_SETTINGS_MODULE (benchmarks.site_settings)
before importing this module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare_database() -> None:
    """Recreate the benchmark database, migrate it, empty the Redis database, set Django up."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    if not config["ENGINE"].endswith("postgresql"):
        sys.exit("The HTTP benchmarks run on PostgreSQL: set DATABASE_URL=postgres://...")
    name = config["NAME"]
    admin = psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()

    import django
    from django.core.cache import caches
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    caches["default"].clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not start listening")


@contextmanager
def serve(workers: int, threads: int, clients: int | None = None):
    """Run project.wsgi under gunicorn (gthread workers) on a free loopback port; yield its URL.

    ``clients``: the load's number of keep-alive connections, to be shared evenly. Without a
    cap, the worker that wakes first accepts a burst of new connections whole (all of them,
    in a fifth of wrk's runs here), and the other worker idles: the run's throughput halves.
    Each worker is capped at its share plus its threads (gunicorn keeps a connection alive
    only while it holds fewer idle ones than ``worker_connections - threads``).
    """
    from django.db import connections

    connections.close_all()  # the server's workers open their own
    port = _free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "project.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
            *(["--worker-connections", str(-(-clients // workers) + threads)] if clients else []),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        _wait(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def server_cpu_seconds(base: str) -> float:
    """CPU seconds used so far by the server behind ``base`` (its gunicorn processes) and by
    the PostgreSQL and Redis servers it talks to: what a request costs, whoever does the work.

    Read from /proc (Linux). Under a CPU-bound load, throughput follows the inverse of this
    cost per request, and the cost is far steadier than requests per second on a shared,
    noisy machine.
    """
    port = base.rsplit(":", 1)[1]
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read()
        except OSError:  # the process ended meanwhile
            continue
        ours = "gunicorn" in cmd and f"127.0.0.1:{port}" in cmd
        service = cmd.startswith(("postgres", "redis-server", "/usr/lib/postgresql"))
        if ours or service:
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total
