"""Read PyTorch ``state_dict`` checkpoints without PyTorch, safely.

A ``.pt`` file written by ``torch.save`` (zip format) holds ``<root>/data.pkl`` — a pickle of the
state dict whose tensors point, through persistent ids, at raw storages ``<root>/data/<key>``.
A pickle can name any Python callable and so run arbitrary code when loaded: a checkpoint is
untrusted input. :class:`RestrictedUnpickler` therefore resolves only the handful of globals a
state dict needs (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the
``torch.*Storage`` types) to harmless NumPy stand-ins and refuses every other global with
:class:`UnsafeCheckpointError`; nothing from torch is imported or executed.
"""
from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["UnsafeCheckpointError", "RestrictedUnpickler", "load_state_dict", "save_npz", "load_npz"]

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The checkpoint's pickle references a global outside the state-dict allow-list."""


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """NumPy stand-in for ``torch._utils._rebuild_tensor_v2``: a strided view, copied."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) == 0:
        return storage[storage_offset].copy()
    needed = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if needed > storage.size or storage_offset < 0 or min(size) < 0:
        raise UnsafeCheckpointError("tensor view exceeds its storage")
    base = storage[storage_offset:]
    return np.lib.stride_tricks.as_strided(base, shape=size, strides=[s * storage.itemsize for s in stride]).copy()


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for state dicts: allow-listed globals only; storages read from the archive."""

    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    }

    def __init__(self, fh, archive, root):
        super().__init__(fh)
        self._archive = archive
        self._root = root
        self._storages = {}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeCheckpointError(
            f"refusing to load global '{module}.{name}': a state-dict checkpoint needs only "
            "OrderedDict, torch._utils._rebuild_tensor_v2 and torch storage types")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise UnsafeCheckpointError(f"unexpected persistent id {pid!r}")
        _, stype, key, _location, numel = pid[:5]
        key = str(key)
        if key not in self._storages:
            raw = self._archive.read(f"{self._root}/data/{key}")
            arr = np.frombuffer(raw, dtype=stype.dtype.newbyteorder("<"))
            if arr.size < int(numel):
                raise UnsafeCheckpointError(f"storage {key} is shorter than declared")
            self._storages[key] = arr
        return self._storages[key]


def load_state_dict(path):
    """Load a ``torch.save``'d state dict as an ordered dict of NumPy arrays (no torch needed).

    Raises
    ------
    ValueError
        If the file is missing or not a zip-format checkpoint.
    UnsafeCheckpointError
        If the pickle references anything outside the allow-list.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"path: {path} is not a zip-format PyTorch checkpoint")
    with zipfile.ZipFile(path) as zf:
        pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ValueError(f"path: {path} has no single data.pkl entry")
        root = pkl[0].rsplit("/", 1)[0] if "/" in pkl[0] else ""
        with zf.open(pkl[0]) as fh:
            state = RestrictedUnpickler(fh, zf, root).load()
    if not isinstance(state, dict):
        raise ValueError("path: the checkpoint does not hold a state dict")
    return collections.OrderedDict((k, np.asarray(v)) for k, v in state.items())


def save_npz(path, state):
    """Save a state dict (name -> array) as a plain ``.npz``."""
    np.savez(path, **{k: np.asarray(v) for k, v in state.items()})


def load_npz(path):
    """Load a state dict saved by :func:`save_npz` (no pickles: ``allow_pickle=False``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: file not found: {path}")
    with np.load(path, allow_pickle=False) as z:
        return collections.OrderedDict((k, z[k]) for k in z.files)
