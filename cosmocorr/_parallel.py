"""Thread-level parallelism shared by the NumPy kernels.

NumPy releases the GIL inside its array loops and matrix products, so independent chunks of
work run in parallel in threads. BLAS is held to one thread meanwhile (via threadpoolctl), so
chunk threads and BLAS threads do not compete for the same cores. ``COSMOCORR_NUM_THREADS``
sets the number of threads (default: the number of cores, at most 4).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

__all__ = ["n_threads", "thread_map"]


def n_threads():
    env = os.environ.get("COSMOCORR_NUM_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(4, os.cpu_count() or 1))


def thread_map(fn, items, limit_blas=True):
    """``list(map(fn, items))`` over threads (order kept); serial when one thread suffices.

    ``limit_blas=False`` skips the BLAS limit (about 0.5 ms) for work without matrix products.
    """
    items = list(items)
    workers = max(1, min(n_threads(), len(items)))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        if not limit_blas:
            return list(pool.map(fn, items))
        with threadpool_limits(1, user_api="blas"):
            return list(pool.map(fn, items))
