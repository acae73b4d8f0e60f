"""Read PyTorch ``state_dict`` checkpoints and ``.npz`` weight files without PyTorch, safely
(the IAEmu checkpoint of paper sec. 7).

A ``.pt`` file written by ``torch.save`` (zip format) holds ``<root>/data.pkl`` — a pickle of the
state dict whose tensors point, through persistent ids, at raw storages ``<root>/data/<key>``.
A checkpoint is untrusted input, so nothing here uses :mod:`pickle`'s own loader: the pickle is
run by a small interpreter of its own (:class:`RestrictedUnpickler`) that knows only the opcodes
a state dict uses and resolves only ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``
and the ``torch.*Storage`` types, to harmless NumPy stand-ins. Nothing from torch is imported or
executed, and every resource the file can make the loader spend is bounded *before* it is spent:

- ``max_bytes`` (default 1 GiB) bounds the file size and, in total, every zip entry read (its
  uncompressed size as declared in the central directory, checked before reading; the entry is
  then read with a bounded read that must yield exactly that many bytes, CRC checked) and every
  tensor built (element count times item size, checked before allocating);
- only stored and deflated zip entries; a central directory of at most 4 MiB; no duplicate names;
- pickle: at most 2,000,000 opcodes, containers nested at most 8 deep and holding at most
  1,000,000 elements counted with shared references expanded (a "billion laughs" of shared
  nested lists is refused after a few dozen opcodes), containers immutable once placed in
  another (so no cycles), dict keys only str or int;
- tensors: non-negative offsets, sizes and strides, at most 8 dimensions, the strided view
  inside its storage (``offset + sum((n - 1) * stride) + 1 <= numel``, in Python integers), a
  storage entry exactly ``numel * itemsize`` bytes;
- the result must be a dict of str -> tensor.

Every failure raises :class:`UnsafeCheckpointError` (a ``ValueError``) whose message names the
file and the entry. :func:`check_state_shapes` then compares a state dict with an architecture
as PyTorch's strict ``load_state_dict`` does (all keys present, none unknown, shapes equal).
"""
from __future__ import annotations

import collections
import io
import math
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["UnsafeCheckpointError", "RestrictedUnpickler", "load_state_dict", "check_state_shapes", "save_npz",
           "load_npz", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 1 << 30        # 1 GiB
_MAX_CENTRAL_DIR = 4 << 20         # bytes of zip central directory (~40,000 torch-style entries)
_MAX_PICKLE_BYTES = 64 << 20
_MAX_OPS = 2_000_000
_MAX_DEPTH = 8                     # a torch state dict needs 3
_MAX_ITEMS = 1_000_000
_MAX_NDIM = 8
_MAX_NPY_HEADER = 10_000

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
# what can go wrong inside zipfile / zlib / numpy's header parser on a malformed file
_PARSE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, struct.error,
                 NotImplementedError, RuntimeError, KeyError, IndexError, TypeError, OverflowError, SyntaxError,
                 RecursionError, UnicodeError)


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """A checkpoint is malformed, over a resource limit, or references anything outside the
    state-dict allow-list. Also a ``ValueError``; the message names the file and the entry."""


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------- zip archives
class _Budget:
    """Bytes the loader may still read or allocate."""

    def __init__(self, limit, source):
        self.limit, self.used, self.source = limit, 0, source

    def charge(self, nbytes, entry, what):
        if nbytes > self.limit - self.used:
            raise UnsafeCheckpointError(
                f"{self.source}: entry '{entry}': {what} needs {nbytes} bytes, over max_bytes={self.limit} "
                f"({self.used} bytes already used)")
        self.used += nbytes


class _CappedFile(io.RawIOBase):
    """A seekable file whose single reads are capped while ``cap`` is set: zipfile reads the
    whole central directory in one ``read``, so this bounds it before zipfile allocates it."""

    def __init__(self, fh, source):
        self._fh, self._source, self.cap = fh, source, _MAX_CENTRAL_DIR
        self._size = os.fstat(fh.fileno()).st_size

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        return self._fh.seek(offset, whence)

    def tell(self):
        return self._fh.tell()

    def read(self, n=-1):
        want = n if n is not None and n >= 0 else self._size - self._fh.tell()
        if self.cap is not None and want > self.cap:
            raise UnsafeCheckpointError(f"{self._source}: entry '<central directory>': larger than "
                                        f"{_MAX_CENTRAL_DIR} bytes")
        return self._fh.read(n)

    def close(self):
        self._fh.close()
        super().close()


class _Archive:
    """A zip file opened for bounded, checked reads of single entries."""

    def __init__(self, path, budget):
        self.path, self.budget = path, budget
        self._fh = _CappedFile(open(path, "rb"), path)
        try:
            self.zf = zipfile.ZipFile(self._fh)
            self._fh.cap = None
            names = [i.filename for i in self.zf.infolist()]
        except UnsafeCheckpointError:
            self._fh.close()
            raise
        except _PARSE_ERRORS as e:
            self._fh.close()
            raise UnsafeCheckpointError(f"{path}: entry '<central directory>': unreadable zip archive ({e})") from e
        if len(set(names)) != len(names):
            self.close()
            dup = sorted({n for n in names if names.count(n) > 1})[0]
            raise UnsafeCheckpointError(f"{path}: entry '{dup}': appears more than once in the archive")
        self.names = names

    def close(self):
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def read(self, name, limit=None):
        """Entry bytes: declared size checked against the budget (and ``limit``) before reading,
        then a bounded read that must return exactly the declared size (CRC checked by zipfile)."""
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise UnsafeCheckpointError(f"{self.path}: entry '{name}': missing from the archive") from None
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnsafeCheckpointError(f"{self.path}: entry '{name}': compression method {info.compress_type} "
                                        "is not supported (only stored or deflated)")
        size = info.file_size
        if limit is not None and size > limit:
            raise UnsafeCheckpointError(f"{self.path}: entry '{name}': declares {size} bytes uncompressed, "
                                        f"over the limit of {limit} bytes for this entry")
        self.budget.charge(size, name, f"declared uncompressed size ({size} bytes, compressed {info.compress_size})")
        try:
            with self.zf.open(info) as fh:
                data = fh.read(size)           # ZipExtFile never returns more than the declared size
                extra = fh.read(1)
        except _PARSE_ERRORS as e:
            raise UnsafeCheckpointError(f"{self.path}: entry '{name}': unreadable ({type(e).__name__}: {e})") from e
        if len(data) != size or extra:
            raise UnsafeCheckpointError(f"{self.path}: entry '{name}': holds {len(data)} bytes, its central "
                                        f"directory declares {size}")
        return data


def _open_archive(path, max_bytes):
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: file not found: {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise UnsafeCheckpointError(f"{path}: entry '<file>': {size} bytes on disk, over max_bytes={max_bytes}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"path: {path}: entry '<end of central directory>': not found: not a zip archive")
    return _Archive(path, _Budget(max_bytes, path))


# ---------------------------------------------------------------------------- the pickle machine
class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    def __init__(self, entry, array):
        self.entry, self.array = entry, array


def _rebuild_tensor_v2(*args):
    """Marker for ``torch._utils._rebuild_tensor_v2``; :meth:`RestrictedUnpickler._rebuild` runs it."""
    raise AssertionError("not called directly")


_GLOBALS = {("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2}
_MARK = object()


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class RestrictedUnpickler:
    """A pickle interpreter for state dicts: the opcodes ``torch.save`` emits (protocols 2-5
    subset), allow-listed globals only, every container counted and bounded.

    ``data`` is the pickle; ``archive`` an :class:`_Archive` (or None: persistent ids refused);
    ``root`` the archive's top directory (storages at ``<root>/data/<key>``).
    """

    def __init__(self, data, archive=None, root="", entry="data.pkl", source="<pickle>", byteorder="<"):
        self.data, self.archive, self.root = bytes(data), archive, root
        self.entry, self.source, self.byteorder = entry, source, byteorder
        self.stack, self.marks, self.memo = [], [], {}
        self._meta = {}          # id(container) -> [container, depth, expanded items, frozen]
        self._storages = {}
        self._ntensors = 0
        self.pos = 0

    # -------------------------------------------------------------- errors and bytes
    def _fail(self, msg):
        raise UnsafeCheckpointError(f"{self.source}: entry '{self.entry}': {msg} (pickle offset {self.pos})")

    def _take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            self._fail("pickle ends early")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _line(self):
        end = self.data.find(b"\n", self.pos, self.pos + 256)
        if end < 0:
            self._fail("malformed GLOBAL")
        b = self.data[self.pos:end]
        self.pos = end + 1
        try:
            return b.decode("ascii")
        except UnicodeDecodeError:
            self._fail("non-ASCII GLOBAL name")

    def _pop(self):
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            self._fail("stack underflow")
        return self.stack.pop()

    def _pop_mark(self):
        if not self.marks:
            self._fail("no MARK")
        k = self.marks.pop()
        items = self.stack[k:]
        del self.stack[k:]
        return items

    def _top(self):
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            self._fail("stack underflow")
        return self.stack[-1]

    # -------------------------------------------------------------- container accounting
    def _new(self, obj, depth=1, items=0):
        self._meta[id(obj)] = [obj, depth, items, False]
        self._check(depth, items)
        return obj

    def _check(self, depth, items):
        if depth > _MAX_DEPTH:
            self._fail(f"containers nested deeper than {_MAX_DEPTH} levels (a state dict needs 3)")
        if items > _MAX_ITEMS:
            self._fail(f"containers hold more than {_MAX_ITEMS} elements with shared references expanded")

    def _use(self, child):
        """Freeze a container placed inside another; return its (depth, expanded items)."""
        m = self._meta.get(id(child))
        if m is None or m[0] is not child:
            return 0, 0
        m[3] = True
        return m[1], m[2]

    def _add(self, parent, children):
        m = self._meta.get(id(parent))
        if m is None or m[0] is not parent:
            self._fail(f"cannot add items to a {type(parent).__name__}")
        if m[3]:
            self._fail("container modified after being placed in another (cycles are not allowed)")
        for c in children:
            if c is parent:
                self._fail("container placed inside itself")
            d, n = self._use(c)
            m[1] = max(m[1], d + 1)
            m[2] += 1 + n
        self._check(m[1], m[2])

    def _tuple(self, items):
        if not items:
            return ()
        depth, total = 1, 0
        for c in items:
            d, n = self._use(c)
            depth, total = max(depth, d + 1), total + 1 + n
        return self._new(tuple(items), depth, total)

    def _setitems(self, d, flat):
        if len(flat) % 2:
            self._fail("odd number of items for SETITEMS")
        if not isinstance(d, dict):
            self._fail(f"SETITEM on a {type(d).__name__}")
        keys = flat[0::2]
        for k in keys:
            if not (isinstance(k, str) or _is_int(k)):
                self._fail(f"dict key of type {type(k).__name__} (only str or int)")
        self._add(d, flat)
        for k, v in zip(keys, flat[1::2]):
            d[k] = v

    # -------------------------------------------------------------- globals, reduce, storages
    def find_class(self, module, name):
        """Resolve only the globals a state dict needs; UnsafeCheckpointError for anything else."""
        if (module, name) in _GLOBALS:
            return _GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeCheckpointError(
            f"{self.source}: entry '{self.entry}': refusing to load global '{module}.{name}': a state-dict "
            "checkpoint needs only OrderedDict, torch._utils._rebuild_tensor_v2 and torch storage types")

    def _reduce(self, func, args):
        if not isinstance(args, tuple):
            self._fail("REDUCE arguments are not a tuple")
        if func is collections.OrderedDict:
            if args != ():
                self._fail("OrderedDict built with arguments")
            return self._new(collections.OrderedDict())
        if func is _rebuild_tensor_v2:
            return self._rebuild(args)
        self._fail(f"REDUCE on a non-callable {type(func).__name__}")

    def persistent_load(self, pid):
        """A torch storage reference, checked and mapped to its zip entry."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and isinstance(pid[0], str) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            self._fail("persistent id is not ('storage', torch.<T>Storage, key, location, numel)")
        _, stype, key, location, numel = pid
        if not (isinstance(key, str) and 0 < len(key) <= 64 and all(c.isalnum() or c in "_-." for c in key)
                and key not in (".", "..")):
            self._fail(f"storage key {key!r} is not a short alphanumeric name")
        if not isinstance(location, str) or not _is_int(numel) or numel < 0:
            self._fail("storage location or element count malformed")
        if self.archive is None:
            self._fail("storages need an archive")
        name = f"{self.root}/data/{key}" if self.root else f"data/{key}"
        dtype = stype.dtype.newbyteorder(self.byteorder)
        if name in self._storages:
            st = self._storages[name]
            if st.array.dtype != dtype or st.array.size != numel:
                self._fail(f"storage '{name}' referenced with two different types or sizes")
            return st
        nbytes = numel * dtype.itemsize
        info = self.archive.zf.NameToInfo.get(name)
        if info is not None and info.file_size != nbytes:
            raise UnsafeCheckpointError(f"{self.source}: entry '{name}': declares {info.file_size} bytes, its "
                                        f"storage needs {numel} x {dtype.itemsize} = {nbytes}")
        raw = self.archive.read(name)
        st = _Storage(name, np.frombuffer(raw, dtype=dtype))
        self._storages[name] = st
        return st

    def _rebuild(self, args):
        """``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])``
        as a bounds-checked strided copy."""
        self._ntensors += 1
        if len(args) not in (6, 7):
            self._fail(f"_rebuild_tensor_v2 takes 6 or 7 arguments, got {len(args)}")
        storage, offset, size, stride, requires_grad, hooks = args[:6]
        if not isinstance(storage, _Storage):
            self._fail("tensor storage is not a persistent storage")
        where = f"tensor #{self._ntensors} on storage '{storage.entry}'"
        if not (_is_int(offset) and offset >= 0):
            self._fail(f"{where}: storage offset {offset!r} is not a non-negative integer")
        if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride) <= _MAX_NDIM):
            self._fail(f"{where}: size and stride must be tuples of equal length <= {_MAX_NDIM}")
        if not all(_is_int(v) and v >= 0 for v in size + stride):
            self._fail(f"{where}: size {size} and stride {stride} must be non-negative integers")
        if not isinstance(requires_grad, bool) or not isinstance(hooks, dict) or hooks:
            self._fail(f"{where}: requires_grad must be a bool and backward hooks empty")
        if len(args) == 7 and args[6] is not None and not isinstance(args[6], dict):
            self._fail(f"{where}: metadata must be a dict")
        arr, itemsize = storage.array, storage.array.dtype.itemsize
        numel = math.prod(size)
        self.archive.budget.charge(numel * itemsize, storage.entry, f"{where} of shape {size}")
        if numel == 0:
            if offset > arr.size:
                self._fail(f"{where}: offset {offset} beyond the storage's {arr.size} elements")
            return np.empty(size, dtype=arr.dtype.newbyteorder("="))
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= arr.size:
            self._fail(f"{where}: view (offset {offset}, size {size}, stride {stride}) reaches element {last} "
                       f"of a storage of {arr.size}")
        strides = [s * itemsize if n > 1 else 0 for n, s in zip(size, stride)]
        view = np.lib.stride_tricks.as_strided(arr[offset:], shape=size, strides=strides, writeable=False)
        return view.astype(arr.dtype.newbyteorder("="), copy=True)

    # -------------------------------------------------------------- the loop
    def load(self):
        """Interpret the pickle with the opcode, nesting and size limits; returns the state dict."""
        data, stack = self.data, self.stack
        push = stack.append
        for _ in range(_MAX_OPS):
            if self.pos >= len(data):
                self._fail("pickle ends without STOP")
            op = data[self.pos]
            self.pos += 1
            if op == 0x80:                                      # PROTO
                if self._take(1)[0] > 5:
                    self._fail("pickle protocol > 5")
            elif op == 0x95:                                    # FRAME
                self._take(8)
            elif op == 0x2E:                                    # STOP
                if len(stack) != 1 or self.marks:
                    self._fail("STOP with a malformed stack")
                return stack.pop()
            elif op == 0x28:                                    # MARK
                self.marks.append(len(stack))
            elif op == 0x4E:                                    # NONE
                push(None)
            elif op == 0x88:                                    # NEWTRUE
                push(True)
            elif op == 0x89:                                    # NEWFALSE
                push(False)
            elif op == 0x4A:                                    # BININT
                push(struct.unpack("<i", self._take(4))[0])
            elif op == 0x4B:                                    # BININT1
                push(self._take(1)[0])
            elif op == 0x4D:                                    # BININT2
                push(struct.unpack("<H", self._take(2))[0])
            elif op == 0x8A:                                    # LONG1
                n = self._take(1)[0]
                push(int.from_bytes(self._take(n), "little", signed=True))
            elif op == 0x47:                                    # BINFLOAT
                push(struct.unpack(">d", self._take(8))[0])
            elif op in (0x58, 0x8C):                            # BINUNICODE, SHORT_BINUNICODE
                n = struct.unpack("<I", self._take(4))[0] if op == 0x58 else self._take(1)[0]
                try:
                    push(self._take(n).decode("utf-8", "surrogatepass"))
                except UnicodeDecodeError:
                    self._fail("invalid UTF-8 string")
            elif op == 0x29:                                    # EMPTY_TUPLE
                push(())
            elif op == 0x74:                                    # TUPLE
                push(self._tuple(self._pop_mark()))
            elif op in (0x85, 0x86, 0x87):                      # TUPLE1-3
                k = op - 0x84
                items = [self._pop() for _ in range(k)][::-1]
                push(self._tuple(items))
            elif op == 0x5D:                                    # EMPTY_LIST
                push(self._new([]))
            elif op == 0x61:                                    # APPEND
                v = self._pop()
                lst = self._top()
                if not isinstance(lst, list):
                    self._fail("APPEND to a non-list")
                self._add(lst, [v])
                lst.append(v)
            elif op == 0x65:                                    # APPENDS
                items = self._pop_mark()
                lst = self._top()
                if not isinstance(lst, list):
                    self._fail("APPENDS to a non-list")
                self._add(lst, items)
                lst.extend(items)
            elif op == 0x7D:                                    # EMPTY_DICT
                push(self._new({}))
            elif op == 0x73:                                    # SETITEM
                v = self._pop()
                k = self._pop()
                self._setitems(self._top(), [k, v])
            elif op == 0x75:                                    # SETITEMS
                items = self._pop_mark()
                self._setitems(self._top(), items)
            elif op in (0x71, 0x72, 0x94):                      # BINPUT, LONG_BINPUT, MEMOIZE
                idx = (self._take(1)[0] if op == 0x71 else struct.unpack("<I", self._take(4))[0] if op == 0x72
                       else len(self.memo))
                self.memo[idx] = self._top()
            elif op in (0x68, 0x6A):                            # BINGET, LONG_BINGET
                idx = self._take(1)[0] if op == 0x68 else struct.unpack("<I", self._take(4))[0]
                if idx not in self.memo:
                    self._fail(f"memo key {idx} missing")
                push(self.memo[idx])
            elif op == 0x63:                                    # GLOBAL
                module = self._line()
                push(self.find_class(module, self._line()))
            elif op == 0x93:                                    # STACK_GLOBAL
                name, module = self._pop(), self._pop()
                if not (isinstance(module, str) and isinstance(name, str)):
                    self._fail("STACK_GLOBAL names are not strings")
                push(self.find_class(module, name))
            elif op == 0x52:                                    # REDUCE
                args = self._pop()
                func = self._pop()
                self._use(args)
                push(self._reduce(func, args))
            elif op == 0x62:                                    # BUILD (torch: OrderedDict._metadata)
                state = self._pop()
                obj = self._top()
                if not isinstance(obj, collections.OrderedDict) or not (state is None or isinstance(state, dict)):
                    self._fail("BUILD is allowed only to set an OrderedDict's attributes from a dict")
                self._add(obj, [state])      # counted, then dropped: the metadata is not needed
            elif op == 0x51:                                    # BINPERSID
                pid = self._pop()
                self._use(pid)
                push(self.persistent_load(pid))
            else:
                self.pos -= 1
                self._fail(f"unsupported pickle opcode {bytes([op])!r}")
        self._fail(f"more than {_MAX_OPS} pickle opcodes")


# ---------------------------------------------------------------------------- public loaders
def load_state_dict(path, max_bytes=DEFAULT_MAX_BYTES):
    """Load a ``torch.save``'d state dict as an ordered dict of NumPy arrays (no torch needed).

    Parameters
    ----------
    path : str or Path
    max_bytes : int
        Upper bound on the file size and on the bytes the loader reads (zip entries, declared
        uncompressed sizes checked before reading) and allocates (tensors, checked before
        allocating), in total. Default 1 GiB.

    Raises
    ------
    ValueError
        If the file is missing or not a zip archive, or ``max_bytes`` is not a positive integer.
    UnsafeCheckpointError
        (a ``ValueError``) If the file is malformed, over a limit, or its pickle references anything
        outside the allow-list; the message names the file and the entry.
    """
    max_bytes = _positive_int(max_bytes, "max_bytes")
    with _open_archive(path, max_bytes) as ar:
        pkl = [n for n in ar.names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise UnsafeCheckpointError(f"{ar.path}: entry 'data.pkl': expected exactly one, found {len(pkl)}")
        root = pkl[0].rsplit("/", 1)[0] if "/" in pkl[0] else ""
        byteorder = "<"
        bo_name = f"{root}/byteorder" if root else "byteorder"
        if bo_name in ar.names:
            bo = ar.read(bo_name, limit=16)
            if bo not in (b"little", b"big"):
                raise UnsafeCheckpointError(f"{ar.path}: entry '{bo_name}': neither 'little' nor 'big'")
            byteorder = "<" if bo == b"little" else ">"
        data = ar.read(pkl[0], limit=_MAX_PICKLE_BYTES)
        state = RestrictedUnpickler(data, ar, root, pkl[0], ar.path, byteorder).load()
    if not isinstance(state, dict):
        raise UnsafeCheckpointError(f"{ar.path}: entry '{pkl[0]}': holds a {type(state).__name__}, not a state dict")
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, np.ndarray):
            raise UnsafeCheckpointError(f"{ar.path}: entry '{k}': the state dict maps it to a "
                                        f"{type(v).__name__}, not a tensor")
    return collections.OrderedDict(state)


def check_state_shapes(state, expected, source, optional=()):
    """Compare a state dict with an architecture as PyTorch's strict ``load_state_dict`` does.

    ``expected`` maps every entry name to its shape; names in ``optional`` may be absent. Raises
    one ``ValueError`` naming ``source`` and every missing, unexpected or wrongly shaped entry.
    """
    problems = []
    missing = [k for k in expected if k not in state and k not in optional]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problems.append("missing entries " + ", ".join(f"'{k}'" for k in missing))
    if unexpected:
        problems.append("unexpected entries " + ", ".join(f"'{k}'" for k in unexpected))
    for k, want in expected.items():
        if k in state:
            got = np.shape(state[k])
            if got != tuple(want):
                problems.append(f"entry '{k}': shape {got}, the architecture needs {tuple(want)}")
    if problems:
        raise ValueError(f"{source}: does not match the architecture: " + "; ".join(problems))


def save_npz(path, state):
    """Save a state dict (name -> array) as a plain ``.npz``."""
    np.savez(path, **{k: np.asarray(v) for k, v in state.items()})


def _npy_array(data, source, entry):
    """Parse one ``.npy`` entry from memory: numeric dtype, exact byte count, then a copy."""
    fp = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp, max_header_size=_MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp, max_header_size=_MAX_NPY_HEADER)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _PARSE_ERRORS as e:
        raise UnsafeCheckpointError(f"{source}: entry '{entry}': malformed .npy header ({e})") from e
    if dtype.kind not in "biuf" or dtype.hasobject or dtype.shape != () or dtype.names is not None:
        raise UnsafeCheckpointError(f"{source}: entry '{entry}': dtype {dtype} is not a plain numeric type")
    if len(shape) > _MAX_NDIM or not all(_is_int(n) and n >= 0 for n in shape):
        raise UnsafeCheckpointError(f"{source}: entry '{entry}': shape {shape} is not valid")
    numel = math.prod(shape)
    offset = fp.tell()
    if len(data) - offset != numel * dtype.itemsize:
        raise UnsafeCheckpointError(f"{source}: entry '{entry}': shape {shape} of {dtype} needs "
                                    f"{numel * dtype.itemsize} bytes, the entry holds {len(data) - offset}")
    arr = np.frombuffer(data, dtype=dtype, count=numel, offset=offset) if numel else np.empty(0, dtype)
    return arr.reshape(shape, order="F" if fortran else "C").astype(dtype.newbyteorder("="), copy=True)


def load_npz(path, max_bytes=DEFAULT_MAX_BYTES):
    """Load a state dict saved by :func:`save_npz` (or ``np.savez``) with the same limits as
    :func:`load_state_dict`: no pickles, plain numeric dtypes, every entry's declared size checked
    against ``max_bytes`` before reading and its header against its byte count before allocating."""
    max_bytes = _positive_int(max_bytes, "max_bytes")
    out = collections.OrderedDict()
    with _open_archive(path, max_bytes) as ar:
        for name in ar.names:
            if not name.endswith(".npy"):
                raise UnsafeCheckpointError(f"{ar.path}: entry '{name}': not a .npy array")
            data = ar.read(name)
            arr = _npy_array(data, ar.path, name)
            del data
            ar.budget.charge(arr.nbytes, name, "the array")
            out[name[:-4]] = arr
    return out
