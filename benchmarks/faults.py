"""Fault scenarios with real processes: Redis stopped and restarted under load, the Celery
worker SIGKILLed during training and during a full refresh. For each: what users saw, and
whether any acknowledged event or the active model was lost.

    python benchmarks/faults.py [--users 20000] [--items 2000] [--dim 300] [--threads 6]
        [--redis-port 6391] [--only redis|training|refresh]

Starts its OWN redis-server on 127.0.0.1:--redis-port (never the machine's 6379) as the
cache, broker and result backend, a fresh PostgreSQL database (BENCH_DATABASE_URL, default
.../recommender_bench_faults), gunicorn on loopback and `make worker`'s two workers, with
TRAIN_LOCK_TIMEOUT 15 s and a broker visibility timeout of 20 s (so that work a killed worker
held is redelivered within the scenario). The site has an active version with the
autoencoder's shapes (random weights) whose lists are cached. Each scenario loads the site
with reads and event batches (as load.py does) while the fault happens, prints a timeline of
answers and of where /recommendations/ lists came from, then checks the database for every
event acknowledged with a 201 and that the active version is still the one it should be.
Exits 1 when a scenario loses an event or the active model, or answers a 5xx.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import proof_site, worker_site  # noqa: E402
from benchmarks.load import MIX, post_train  # noqa: E402

LOGS = Path("/tmp/recommender_bench_faults")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--threads", type=int, default=6, help="client connections")
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--only", choices=["redis", "training", "refresh"])
    return parser.parse_args()


class RedisServer:
    """A redis-server of this script only, on loopback, without persistence."""

    def __init__(self, port: int):
        self.port, self.proc = port, None
        if not shutil.which("redis-server"):
            sys.exit("redis-server is not installed (apt-get install redis-server)")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(f"something already listens on 127.0.0.1:{port}; pick --redis-port")

    def start(self) -> None:
        log = (LOGS / f"redis-{self.port}.log").open("a")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        sys.exit("redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Scenario:
    """One fault under load: runs it, prints what users saw, and checks what was kept."""

    def __init__(self, name: str, url: str, site, expected_active: int, seed: int):
        self.name, self.url, self.site, self.seed = name, url, site, seed
        self.expected_active = expected_active
        self.notes: list[str] = []

    def note(self, elapsed: float, text: str) -> None:
        self.notes.append(f"  {elapsed:6.1f} s  {text}")

    def run(self, seconds: float, threads: int, during) -> bool:
        load = proof_site.Load(self.url, self.site, MIX, seed=self.seed)
        with proof_site.Monitor(time.monotonic()) as monitor:
            results = load.run(seconds, 10**7, threads, during)
        return self.report(results, monitor)

    def report(self, results, monitor) -> bool:
        from recommender.models import ModelVersion

        print(f"\n== {self.name}")
        print("what happened:")
        print("\n".join(self.notes))
        for line in proof_site.summary(results):
            print(line)
        print("what users saw (2 s slices): answers by status, source of /recommendations/:")
        print("\n".join(proof_site.timeline(results, 2)))
        print("versions and refreshes, as they changed:")
        print("\n".join(monitor.lines()))
        missing = proof_site.missing_events(results.acknowledged)
        active = list(ModelVersion.objects.active().values_list("pk", flat=True))
        server_errors = sum(1 for r in results.records if r.status >= 500)
        kept = not missing and active == [self.expected_active] and not server_errors
        print(
            f"events acknowledged: {len(results.acknowledged):,}, missing from the database: "
            f"{len(missing)}, refused or unanswered (the client knows to resend): "
            f"{len(results.unacknowledged):,}; active version: {active} "
            f"(expected [v{self.expected_active}]); 5xx: {server_errors} -> "
            f"{'KEPT' if kept else 'LOST SOMETHING'}"
        )
        return kept


def supervise(procs, scenario, elapsed: float) -> None:
    """What systemd's Restart=always (or any process supervisor) does: start again a worker
    that exited."""
    for queue, proc in procs.items():
        if proc.poll() is not None:
            scenario.note(
                elapsed,
                f"the {queue} worker had exited (code {proc.returncode}); "
                "restarted, as a process supervisor would",
            )
            procs[queue] = proof_site.start_worker(
                queue, f"{queue}-restarted", LOGS / "workers.log"
            )


def redis_outage(url, site, procs, redis: RedisServer, active: int, args) -> bool:
    """Redis (cache, broker, result backend) killed at 8 s and restarted empty at 18 s; at
    19 s workers that exited are started again (as a supervisor would); at 20 s the periodic
    full refresh (as beat would send it) is queued, and runs once a worker consumes again."""
    from recommender import tasks

    scenario = Scenario("Redis stopped and restarted under load", url, site, active, 1)
    done = set()

    def during(elapsed: float) -> None:
        if elapsed >= 8 and "stop" not in done:
            redis.kill()
            done.add("stop")
            scenario.note(elapsed, "redis-server SIGKILLed (cache, broker and results gone)")
        if elapsed >= 18 and "start" not in done:
            redis.start()
            done.add("start")
            scenario.note(elapsed, "redis-server started again, empty")
        if "start" in done:
            supervise(procs, scenario, elapsed)
        if elapsed >= 20 and "refresh" not in done:
            try:
                tasks.refresh_all.delay(active)
                scenario.note(elapsed, f"refresh_all(v{active}) sent")
                done.add("refresh")
            except Exception as exc:  # the broker connection may still be reconnecting
                scenario.note(elapsed, f"refresh_all not sent yet: {type(exc).__name__}")

    return scenario.run(50, args.threads, during)


def settle(version_id: int, timeout: float = 180) -> None:
    """After a scenario: wait until readers use ``version_id``'s cached lists again."""
    from recommender import cache

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if cache.get_current_version() == version_id:
            print(
                f"after the scenario, readers use v{version_id}'s cached lists again "
                f"(waited {time.monotonic() - started:.1f} s)"
            )
            return
        time.sleep(0.25)
    print(f"after the scenario, readers did not use v{version_id}'s lists within {timeout:.0f} s")


def _status(version_id: int) -> str:
    from recommender.models import ModelVersion

    return ModelVersion.objects.get(pk=version_id).status


def killed_while_training(url, site, procs, active: int, args) -> bool:
    """A retrain started through the API; its worker SIGKILLed 3 s into the "training" state;
    after the lock expires, the scheduled fail_stale_runs task marks the run failed."""
    from recommender import cache, tasks

    scenario = Scenario("Celery worker killed during training", url, site, active, 2)
    state = {}

    def during(elapsed: float) -> None:
        if "version" not in state:
            state["version"] = post_train(url, site.staff_token)
            scenario.note(elapsed, f"POST /api/models/train/ -> v{state['version']} queued")
        elif "training" not in state and _status(state["version"]) == "training":
            state["training"] = elapsed
            scenario.note(elapsed, f"v{state['version']} is training")
        elif "training" in state and "killed" not in state and elapsed > state["training"] + 3:
            proof_site.kill(procs["training"])
            state["killed"] = elapsed
            scenario.note(elapsed, "training worker SIGKILLed (-P solo: the run dies with it)")
        elif "killed" in state and "failed" not in state and cache.get_value("train-lock") is None:
            sent = time.monotonic()
            stale = tasks.fail_stale_runs.delay().get(timeout=60)
            state["failed"] = elapsed
            scenario.note(
                elapsed,
                f"lock expired; fail_stale_runs task sent, answered after "
                f"{time.monotonic() - sent:.1f} s: {stale} run(s) marked failed; "
                f"v{state['version']} is {_status(state['version'])}",
            )

    kept = scenario.run(60, args.threads, during)
    procs["training"] = proof_site.start_worker("training", "training-again", LOGS / "workers.log")
    proof_site.wait_ready(procs["training"])
    if "failed" not in state:
        print(f"the run was not marked failed within the scenario (state: {state})")
        return False
    print(
        f"training worker restarted; the lock is free for the next run: "
        f"{cache.get_value('train-lock') is None}"
    )
    return kept and _status(state["version"]) == "failed"


def killed_during_refresh(url, site, procs, active: int, args) -> tuple[bool, int]:
    """A new version activated (as a retrain would), so the worker refreshes every list in
    chunks; the default worker SIGKILLed once the first chunk's lists are written, restarted
    2 s later. Readers must keep one version's lists throughout, and switch once every chunk
    is written (the killed worker's chunks are redelivered after the visibility timeout)."""
    from recommender import cache, registry

    newer = worker_site.make_version(args.dim, seed=1)
    scenario = Scenario("Celery worker killed during refresh_all", url, site, newer.pk, 3)
    state = {}

    def _mid_refresh(state, elapsed) -> bool:
        """The first chunk's lists are written (or 3 s passed) and the rest are not."""
        if cache.get_value("refreshing:default") != newer.pk:
            return False
        first = cache.get_list(newer.pk, site.users[0].pk) is not None
        return first or elapsed > state["activated"] + 3

    def during(elapsed: float) -> None:
        if elapsed >= 3 and "activated" not in state:
            registry.activate(newer)
            state["activated"] = elapsed
            scenario.note(elapsed, f"v{newer.pk} activated: refresh_all(v{newer.pk}) queued")
        elif "activated" in state and "killed" not in state and _mid_refresh(state, elapsed):
            first_chunk = site.users[::10]  # the token users are the first chunk's users
            written = sum(cache.get_list(newer.pk, u.pk) is not None for u in first_chunk)
            proof_site.kill(procs["celery"])
            state["killed"] = elapsed
            scenario.note(
                elapsed,
                f"default worker SIGKILLed mid-refresh ({written} of {len(first_chunk)} "
                f"sampled users of the first chunk have v{newer.pk} lists; readers still on "
                "the old pointer)",
            )
        elif "killed" in state and "restarted" not in state and elapsed > state["killed"] + 2:
            procs["celery"] = proof_site.start_worker(
                "celery", "celery-again", LOGS / "workers.log"
            )
            state["restarted"] = elapsed
            scenario.note(elapsed, "default worker restarted")
        elif (
            "restarted" in state
            and "switched" not in state
            and cache.get_current_version() == newer.pk
        ):
            state["switched"] = elapsed
            scenario.note(elapsed, f"readers switched to v{newer.pk}'s lists")

    kept = scenario.run(75, args.threads, during)
    if "switched" not in state:
        print(
            f"readers did not switch to v{newer.pk} within the scenario: its refresh needs "
            "sending again (the old version's lists kept serving)"
        )
    return kept and "killed" in state, newer.pk


def main() -> int:
    args = _parse()
    LOGS.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(args.redis_port)
    redis.start()
    proof_site.configure(
        "recommender_bench_faults",
        f"redis://127.0.0.1:{args.redis_port}/0",
        TRAIN_LOCK_TIMEOUT=15,
        REFRESH_CHUNK_SIZE=500,
    )
    os.environ["PROOF_VISIBILITY_TIMEOUT"] = "20"
    ok = True
    try:
        site = proof_site.build(args.users, args.items, args.history)
        from benchmarks import bench_server

        print(
            f"{proof_site.machine()}; {args.users:,} users, {args.items:,} items, hidden "
            f"{args.dim}; Redis of this script on 127.0.0.1:{args.redis_port}"
        )
        with proof_site.workers(LOGS / "workers.log") as procs:
            first = worker_site.make_version(args.dim)
            print(
                f"v{first.pk} active, every list cached in "
                f"{proof_site.activate_and_refresh(first):.1f} s"
            )
            active = first.pk
            with bench_server.serve(2, 4) as url:
                if args.only in (None, "redis"):
                    ok &= redis_outage(url, site, procs, redis, active, args)
                    settle(active)
                if args.only in (None, "training"):
                    ok &= killed_while_training(url, site, procs, active, args)
                    settle(active)
                if args.only in (None, "refresh"):
                    kept, active = killed_during_refresh(url, site, procs, active, args)
                    settle(active)
                    ok &= kept
    finally:
        redis.kill()
    print(f"\nall scenarios kept every acknowledged event and the active model: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
