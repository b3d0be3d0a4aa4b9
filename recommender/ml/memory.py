"""Peak resident memory of the current process, for benchmarks and evaluation reports."""

from __future__ import annotations

import resource
import sys
from types import TracebackType

__all__ = ["PeakMemory", "peak_rss_mb", "current_rss_mb"]

# tracemalloc only sees allocations made through Python's allocator; TensorFlow, BLAS and
# numpy's large buffers bypass it, so peak resident set size (RSS) is measured instead.


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (VmHWM or ru_maxrss)."""
    value = _status_mb("VmHWM")
    if value is not None:
        return value
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024.0 * 1024.0) if sys.platform == "darwin" else maxrss / 1024.0


def current_rss_mb() -> float:
    """Current resident set size in MiB (0 when /proc is unavailable)."""
    return _status_mb("VmRSS") or 0.0


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False when not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Context manager measuring the process's peak RSS while the block runs.

    On Linux the peak mark is reset on entry, so ``peak_mb`` is the true peak RSS of the
    process during the block (baseline included). Where the reset is not allowed,
    ``peak_mb`` is the process's lifetime peak at exit, an upper bound. ``reset`` tells
    which one was measured.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self.start_mb = 0.0
        self.reset = False

    def __enter__(self) -> PeakMemory:
        self.reset = _reset_peak()
        self.start_mb = current_rss_mb()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.peak_mb = peak_rss_mb()
