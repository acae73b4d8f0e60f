"""Progress reporting for long loops (sampling, bootstrap, training, MCMC, Dask tasks), via tqdm.

Every long-running public function takes ``progress=False``; with ``progress=True`` a tqdm bar is
drawn (``tqdm.auto``: a widget in Jupyter notebooks, a text bar on standard error otherwise).
``progress`` may also be a dict of tqdm options (``{"position": 1, "leave": False}``).
"""
from __future__ import annotations

import contextlib
import contextvars
import threading

__all__ = ["progress_range", "progress_iter", "progress_bar", "reporting", "current_progress"]


def _tqdm():
    from tqdm.auto import tqdm
    return tqdm


class _NoBar:
    """Stands in for a bar when progress is off."""

    n = 0

    def update(self, n=1):
        self.n += n

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def progress_bar(total, desc="working", progress=False):
    """A tqdm bar (``update(n)``, ``close()``, context manager), or a silent stand-in."""
    if not progress:
        return _NoBar()
    options = dict(progress) if isinstance(progress, dict) else {}
    options.setdefault("dynamic_ncols", True)
    return _tqdm()(total=total, desc=desc, **options)


def progress_iter(iterable, total=None, desc="working", progress=False):
    """Yield from ``iterable`` with a tqdm bar when ``progress`` is true."""
    if not progress:
        yield from iterable
        return
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    with progress_bar(total, desc, progress) as bar:
        for item in iterable:
            yield item
            bar.update(1)


def progress_range(n, desc="working", progress=False):
    """``range(n)`` with an optional tqdm bar."""
    return progress_iter(range(int(n)), total=int(n), desc=desc, progress=progress)


class _Bar:
    """The former hand-written bar's interface (``_Bar(total, desc, enabled).update()``), on tqdm."""

    def __init__(self, total, desc, enabled, stream=None, min_interval=0.1):
        self.total = int(total)
        self.n = 0
        self._bar = None
        if enabled:
            kwargs = {"mininterval": min_interval}
            if stream is not None:
                kwargs["file"] = stream
            self._bar = progress_bar(self.total, desc, kwargs)

    def update(self, n=1):
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            if self.n >= self.total:
                self._bar.close()

    def close(self):
        if self._bar is not None:
            self._bar.close()


class _Growing:
    """A bar whose total grows as work is discovered (each kernel call adds its row blocks) and
    that threads may advance at once."""

    def __init__(self, bar):
        self.bar = bar
        self.lock = threading.Lock()

    def add_total(self, n):
        with self.lock:
            self.bar.total = (self.bar.total or 0) + int(n)
            self.bar.refresh()

    def update(self, n=1):
        with self.lock:
            self.bar.update(n)


class _Silent:
    def add_total(self, n):
        pass

    def update(self, n=1):
        pass


_SILENT = _Silent()
_current = contextvars.ContextVar("cosmocorr_progress", default=None)


@contextlib.contextmanager
def reporting(progress, desc):
    """Within the block, :func:`current_progress` is a bar (when ``progress``) that the pair
    kernels advance by one per row block of tiles they finish; its total grows as each kernel
    call announces its row blocks. How ``progress=True`` reaches the exact estimators."""
    if not progress:
        yield _SILENT
        return
    bar = progress_bar(0, desc, progress)
    reporter = _Growing(bar)
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)
        bar.close()


def current_progress():
    """The reporter set by :func:`reporting` (a silent one outside it). Read it in the calling
    thread: context variables do not reach pool threads by themselves."""
    return _current.get() or _SILENT
