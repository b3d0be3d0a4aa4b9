"""Run every benchmark and write benchmarks/RESULTS.md: each figure block with the command that
measured it, the machine, the date, and whether it ran, failed, timed out or is missing.

    python benchmarks/run_all.py [--only NAME ...] [--skip NAME ...] [--timeout SECONDS]
        [--output benchmarks/RESULTS.md] [--list]

A benchmark is a ``benchmarks/*.py`` with a ``__main__`` block (the others are helpers);
each runs alone, in turn, as ``python benchmarks/NAME.py`` with its defaults, in a
subprocess with a timeout. The figures it prints are copied as they are. RESULTS.md is
rewritten after every benchmark, so an interrupted run keeps what it measured. Benchmarks
the project promises but that do not exist are listed as missing; exits 1 when any
benchmark failed, timed out or is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# What each figure of the project is measured by (issue 8's list), in the order they run.
EXPECTED = [
    "quality",
    "train_scale",
    "api_throughput",
    "ingest",
    "refresh_all",
    "event_latency",
    "web_memory",
    "load",
    "faults",
]
# Longest a benchmark may run with its defaults on the 2-core machine, in seconds.
TIMEOUTS = {"quality": 3600, "train_scale": 3600, "admin_dashboard": 3600}
DEFAULT_TIMEOUT = 1800
TAIL = 60  # lines of stderr kept for a benchmark that failed


@dataclass
class Outcome:
    name: str
    command: str
    status: str  # ok, failed (exit N), timed out, missing
    seconds: float
    stdout: str
    stderr: str
    started: str
    load: str


def discover() -> list[str]:
    """The benchmarks present: expected ones first, in their order, then any others."""
    found = sorted(
        p.stem
        for p in HERE.glob("*.py")
        if p.stem != "run_all" and '__name__ == "__main__"' in p.read_text()
    )
    return [n for n in EXPECTED if n in found] + [n for n in found if n not in EXPECTED]


def machine() -> str:
    memory_kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    return f"{os.cpu_count()} CPU cores, {memory_kib / 1024**2:.1f} GiB memory"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def revision() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with uncommitted changes" if git("status", "--porcelain") else "")


def run(name: str, timeout: float) -> Outcome:
    command = f"python benchmarks/{name}.py"
    started, load = dt.datetime.now().astimezone().isoformat(timespec="seconds"), load_average()
    if not (HERE / f"{name}.py").exists():
        return Outcome(name, command, "missing", 0.0, "", "", started, load)
    began = time.monotonic()
    print(f"-- {command} (timeout {timeout:.0f} s)", flush=True)
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
        stdout, stderr = done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        status = f"timed out after {timeout:.0f} s"
        stdout, stderr = _text(exc.stdout), _text(exc.stderr)
    outcome = Outcome(
        name, command, status, time.monotonic() - began, stdout, stderr, started, load
    )
    print(f"   {status} in {outcome.seconds:.0f} s", flush=True)
    return outcome


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


def render(outcomes: list[Outcome], header: str) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python benchmarks/run_all.py`); do not edit by hand. Each "
        "block is what one script printed, with the command that measured it. Ratios are "
        "measured side by side within one script's run. See benchmarks/README.md for what "
        "each script does.",
        "",
        header,
        "",
        "| benchmark | status | seconds | started | load average at start |",
        "|---|---|---:|---|---|",
    ]
    lines += [
        f"| {o.name} | {o.status} | {o.seconds:.0f} | {o.started} | {o.load} |" for o in outcomes
    ]
    for o in outcomes:
        lines += [
            "",
            f"## {o.name}",
            "",
            f"Command: `{o.command}`  ",
            f"Machine: {machine()}  ",
            f"Date: {o.started}; status: **{o.status}**",
            "",
        ]
        if o.status == "missing":
            lines.append(f"`benchmarks/{o.name}.py` does not exist yet: no figure.")
            continue
        if o.status.startswith("not run"):
            lines.append("Left out by `--only`/`--skip`: run `make bench` for every figure.")
            continue
        lines += ["```", o.stdout.rstrip() or "(printed nothing)", "```"]
        if o.status != "ok" and o.stderr.strip():
            tail = o.stderr.rstrip().splitlines()[-TAIL:]
            lines += ["", f"Last {len(tail)} lines of its error output:", "", "```", *tail, "```"]
    return "\n".join(lines) + "\n"


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME")
    parser.add_argument("--skip", nargs="+", metavar="NAME", default=[])
    parser.add_argument("--timeout", type=float, help="seconds for every benchmark")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--list", action="store_true", help="print what would run, and stop")
    return parser.parse_args()


def main() -> int:
    args = _parse()
    present = discover()
    names = args.only or present + [n for n in EXPECTED if n not in present]
    names = [n for n in names if n not in args.skip]
    if args.list:
        for name in names:
            print(name if name in present else f"{name} (missing)")
        return 0
    header = (
        f"Run of {dt.date.today().isoformat()} on {machine()}, commit {revision()}, "
        f"Python {sys.version.split()[0]}."
    )
    outcomes: list[Outcome] = []
    for name in names:
        timeout = args.timeout or TIMEOUTS.get(name, DEFAULT_TIMEOUT)
        outcomes.append(run(name, timeout))
        args.output.write_text(render(outcomes, header))
    skipped = [n for n in present + EXPECTED if n not in names]
    for name in dict.fromkeys(skipped):
        status = "not run in this invocation" if name in present else "missing"
        outcomes.append(
            Outcome(name, f"python benchmarks/{name}.py", status, 0.0, "", "", "-", load_average())
        )
    args.output.write_text(render(outcomes, header))
    bad = [o for o in outcomes if o.status not in ("ok", "not run in this invocation")]
    ran = sum(1 for o in outcomes if o.status == "ok")
    print(
        f"wrote {args.output}: {ran} ok, "
        f"{len(bad)} not ({', '.join(f'{o.name}: {o.status}' for o in bad) or 'none'})"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
