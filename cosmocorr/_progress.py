"""Progress reporting for long loops (sampling, bootstrap, training, MCMC).

Every long loop in cosmocorr takes ``progress=False``; with ``progress=True`` it prints a
one-line bar to standard error that updates in place.  No third-party dependency.
"""
from __future__ import annotations

import sys
import time

__all__ = ["progress_range", "progress_iter"]


class _Bar:
    def __init__(self, total, desc, enabled, stream=None, min_interval=0.1):
        self.total = int(total)
        self.desc = desc
        self.enabled = bool(enabled)
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self.start = time.perf_counter()
        self._last = 0.0
        self.n = 0

    def update(self, n=1):
        self.n += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.n < self.total and now - self._last < self.min_interval:
            return
        self._last = now
        frac = self.n / self.total if self.total else 1.0
        width = 30
        filled = int(round(width * frac))
        elapsed = now - self.start
        rate = self.n / elapsed if elapsed > 0 else float("inf")
        eta = (self.total - self.n) / rate if rate > 0 and self.n else float("nan")
        self.stream.write(
            f"\r{self.desc}: [{'#' * filled}{'.' * (width - filled)}] {self.n}/{self.total}"
            f" {elapsed:6.1f}s elapsed, eta {eta:6.1f}s"
        )
        if self.n >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def progress_iter(iterable, total=None, desc="working", progress=False):
    """Yield from ``iterable``, drawing a progress bar on stderr when ``progress`` is true."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = 0
    bar = _Bar(total, desc, progress)
    for item in iterable:
        yield item
        bar.update()


def progress_range(n, desc="working", progress=False):
    """``range(n)`` with an optional progress bar."""
    return progress_iter(range(int(n)), total=int(n), desc=desc, progress=progress)
