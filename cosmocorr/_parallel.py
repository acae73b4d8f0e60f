"""The one executor abstraction for all parallel work in cosmocorr.

Two kinds of parallel work exist:

- **chunks of one array computation** (pair-sum tiles, fuzzy c-means row blocks, network
  batches): NumPy releases the GIL inside its loops, so they run in threads of this process
  (:func:`thread_map`). BLAS is held to one thread meanwhile (threadpoolctl) so that chunk threads
  and BLAS threads do not compete for the same cores;
- **independent tasks** (Algorithm 1 draws, resamples, training-set simulations, ensemble
  members, MCMC chains, tiles of the all-pairs sums): :func:`task_map` runs them in threads here,
  or on a Dask cluster when a ``dask.distributed.Client`` is configured.

Threads
    ``num_threads=`` on a public function, else :func:`set_num_threads`, else the
    ``COSMOCORR_NUM_THREADS`` environment variable, else every core this process may use
    (``os.sched_getaffinity``). Nothing caps the number silently; :func:`using_threads` sets it
    for a block of code (how the public functions pass ``num_threads=`` to the kernels).
Dask
    ``client=`` on a public function, else :func:`set_executor`, else ``COSMOCORR_SCHEDULER``
    (a scheduler address such as ``tcp://10.0.0.1:8786``; a client is connected on first use),
    else none: local threads. ``set_executor(None)`` returns to local threads (and ignores
    ``COSMOCORR_SCHEDULER``); ``client=False`` forces local threads for one call.
    Nothing here imports dask unless a client is given or the variable is set.

Tasks receive their random seeds from the caller (derived with ``numpy.random.SeedSequence.spawn``
in task order), never from the order in which they happen to run, so a seed gives the same draws
locally and on any cluster. On a Dask worker every task runs its NumPy work in one thread (the
worker processes already use the cores).
"""
from __future__ import annotations

import contextlib
import contextvars
import numbers
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

__all__ = ["n_threads", "thread_map", "set_num_threads", "using_threads", "check_num_threads",
           "set_executor", "get_executor", "resolve_client", "using_executor", "with_executor", "task_map", "scatter",
           "SCHEDULER_ENV", "THREADS_ENV"]

THREADS_ENV = "COSMOCORR_NUM_THREADS"
SCHEDULER_ENV = "COSMOCORR_SCHEDULER"

_threads_override = contextvars.ContextVar("cosmocorr_num_threads", default=None)
_client_override = contextvars.ContextVar("cosmocorr_client", default=None)
_session_threads = None
_UNSET = object()
_executor = _UNSET          # set_executor(): a client, None (local threads) or unset
_env_client = None          # the client connected from COSMOCORR_SCHEDULER
_env_address = None


# --------------------------------------------------------------------------------------- threads
def check_num_threads(num_threads, name="num_threads"):
    """``None`` or a positive int (``ValueError``/``TypeError`` naming the argument otherwise)."""
    if num_threads is None:
        return None
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"{name} must be a positive int or None, got {type(num_threads).__name__}")
    value = int(num_threads)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _available_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def set_num_threads(num_threads):
    """Session default for the number of threads (``None``: back to the environment / all cores)."""
    global _session_threads
    _session_threads = check_num_threads(num_threads)


def n_threads(num_threads=None):
    """The number of threads to use: the argument, :func:`using_threads`, :func:`set_num_threads`,
    ``COSMOCORR_NUM_THREADS``, then all cores available to this process (no cap)."""
    for value in (num_threads, _threads_override.get(), _session_threads):
        if value is not None:
            return check_num_threads(value)
    env = os.environ.get(THREADS_ENV)
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {env!r}") from None
        return check_num_threads(value, THREADS_ENV)
    return _available_cores()


@contextlib.contextmanager
def using_threads(num_threads):
    """Within the block, :func:`n_threads` returns ``num_threads`` (``None``: unchanged)."""
    num_threads = check_num_threads(num_threads)
    if num_threads is None:
        yield
        return
    token = _threads_override.set(num_threads)
    try:
        yield
    finally:
        _threads_override.reset(token)


_limit_lock = threading.Lock()
_limit_state = [0, None]  # [depth, threadpoolctl limiter]


@contextlib.contextmanager
def single_threaded_blas():
    """BLAS (and OpenMP) thread pools limited to one thread within the block, when called from
    the main thread.

    threadpoolctl's limit is process-wide, and OpenBLAS ignores a request to *raise* its thread
    count made from any thread but the main one once its pool runs: a limit set and restored
    around work started from user threads (two threads each running fuzzy c-means) could leave
    the whole process at one BLAS thread. So only the main thread limits (nested blocks share one
    limit, reference-counted, set and restored by the main thread); work started from other
    threads runs without touching the limit (at worst BLAS and cosmocorr's threads oversubscribe
    the cores for its duration; the process's setting is never lost).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _limit_lock:
        if _limit_state[0] == 0:
            _limit_state[1] = threadpool_limits(1)
        _limit_state[0] += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_state[0] -= 1
            if _limit_state[0] == 0:
                _limit_state[1].restore_original_limits()
                _limit_state[1] = None


def thread_map(fn, items, limit_blas=True, num_threads=None):
    """``list(map(fn, items))`` over threads (order kept); serial when one thread suffices.

    ``limit_blas=False`` skips the BLAS limit (about 0.5 ms) for work without matrix products.
    """
    items = list(items)
    workers = max(1, min(n_threads(num_threads), len(items)))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        if not limit_blas:
            return list(pool.map(fn, items))
        with single_threaded_blas():
            return list(pool.map(fn, items))


# ------------------------------------------------------------------------------------------- Dask
def _is_client(obj):
    return all(hasattr(obj, a) for a in ("map", "submit", "gather", "scatter"))


def check_client(client, name="client"):
    """``client`` if it is a running ``dask.distributed.Client``: TypeError naming ``name`` for any
    other object (a cluster, an executor, an address string), ValueError for a closed client,
    so that work meant for a cluster never silently runs elsewhere or fails deep inside Dask."""
    if not _is_client(client):
        hint = " (pass Client(cluster), not the cluster)" if hasattr(client, "scheduler_address") else ""
        raise TypeError(f"{name} must be a dask.distributed.Client, got {type(client).__name__}{hint}")
    status = getattr(client, "status", "running")
    if status not in ("running", "connecting", "newly-created"):
        raise ValueError(f"{name}: the Dask client is {status!r}; give a running client (or client=False "
                         "for local threads)")
    return client


def set_executor(client):
    """Send cosmocorr's independent tasks to a ``dask.distributed.Client`` (or ``None``: local threads).

    Returns the previous setting. ``set_executor(None)`` also ignores ``COSMOCORR_SCHEDULER``.
    """
    global _executor
    if client is not None:
        check_client(client)
    previous = None if _executor is _UNSET else _executor
    _executor = client
    return previous


def get_executor():
    """The configured client (``set_executor`` or ``COSMOCORR_SCHEDULER``), or ``None``."""
    return resolve_client(None)


def resolve_client(client=None):
    """The client a call should use: ``client`` itself, ``None`` for local threads.

    ``client=None`` takes the configured default; ``client=False`` forces local threads.
    """
    global _env_client, _env_address
    if client is None:
        client = _client_override.get()
    if client is False:
        return None
    if client is not None:
        return check_client(client)
    if _executor is not _UNSET:
        return None if _executor is None else check_client(_executor, "client (set_executor)")
    address = os.environ.get(SCHEDULER_ENV)
    if not address:
        return None
    if _env_client is None or _env_address != address:
        try:
            from dask.distributed import Client
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError(f"{SCHEDULER_ENV} is set but dask.distributed is not installed; "
                              "pip install 'cosmocorr[dask]'") from exc
        _env_client, _env_address = Client(address), address
    return _env_client


@contextlib.contextmanager
def using_executor(client):
    """Within the block, :func:`resolve_client` returns ``client`` (``None``: unchanged;
    ``False``: local threads). How the public functions pass ``client=`` down to the layers."""
    if client is None:
        yield
        return
    if client is not False:
        check_client(client)
    token = _client_override.set(client)
    try:
        yield
    finally:
        _client_override.reset(token)


def with_executor(fn):
    """Decorator for functions taking ``client=`` and ``num_threads=``: everything they call
    (also helpers that take no such argument) runs under that client and thread count."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, client=None, num_threads=None, **kwargs):
        with using_executor(client), using_threads(num_threads):
            return fn(*args, client=client, num_threads=num_threads, **kwargs)
    return wrapper


def _single_threaded(fn, args):
    """Run ``fn(*args)`` in one thread (cosmocorr's and BLAS's), locally: on a Dask worker a task
    never submits tasks of its own."""
    with using_threads(1), using_executor(False), threadpool_limits(1):  # a worker process: stays at 1
        return fn(*args)


def task_map(fn, tasks, client=None, num_threads=None, progress=None, limit_blas=True, key=None):
    """``[fn(*t) for t in tasks]`` in task order: on Dask when a client is configured, else threads.

    ``tasks`` is a list of argument tuples. Arguments that are Dask futures (from
    ``client.scatter``) are resolved on the worker. ``progress`` is an object with ``update(n)``
    (a tqdm bar) advanced as tasks finish. Tasks must not draw random numbers except from seeds
    passed in their arguments. On Dask each task runs single-threaded; a failed worker's tasks are
    recomputed elsewhere by Dask.
    """
    tasks = [tuple(t) for t in tasks]
    client = resolve_client(client)
    if client is None:
        def run(args):
            with using_threads(1), using_executor(False):   # parallel over tasks, not inside them
                out = fn(*args)
            if progress is not None:
                progress.update(1)
            return out
        return thread_map(run, tasks, limit_blas=limit_blas, num_threads=num_threads)
    from dask.distributed import as_completed

    prefix = key or getattr(fn, "__name__", "cosmocorr-task")
    futures = [client.submit(_single_threaded, fn, args, pure=False, key=f"{prefix}-{i}-{_token()}")
               for i, args in enumerate(tasks)]
    if progress is not None:
        for _ in as_completed(futures):
            progress.update(1)
    return client.gather(futures)


def _token():
    return os.urandom(6).hex()   # unique task keys (no effect on results)


def scatter(client, obj):
    """``obj`` sent to the workers once (a future; a list gives a list of futures) when ``client``
    is a client, else ``obj`` itself.

    Each object becomes the result of a small task that holds it, rather than of
    ``client.scatter``: scattered data has no lineage, and Dask's active memory manager drops
    extra replicas of it (policy ReduceReplicas), so a worker lost mid-run could take the only
    copy with it. A task's result is recomputed from the task (whose arguments the scheduler
    keeps), so a lost worker loses no input and its tasks are simply recomputed elsewhere.
    """
    if client is None:
        return obj
    with warnings.catch_warnings():
        # the inputs are meant to travel once with their task
        warnings.filterwarnings("ignore", message=".*large graph.*", category=UserWarning)
        if isinstance(obj, list):
            return [client.submit(_unbox, _Box(o), pure=False, key=f"cosmocorr-input-{_token()}") for o in obj]
        return client.submit(_unbox, _Box(obj), pure=False, key=f"cosmocorr-input-{_token()}")


class _Box:
    """Holds an input as one opaque argument (Dask does not look inside it for tasks or keys)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __getstate__(self):
        return (self.obj,)

    def __setstate__(self, state):
        self.obj = state[0]


def _unbox(box):
    return box.obj