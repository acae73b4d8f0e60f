"""Hostile checkpoints (issue 16): every reproducer builds its malicious file in tmp_path and
must end in one clean UnsafeCheckpointError / ValueError naming the file and the entry, within
a small, measured amount of memory and time; plus a seeded fuzz of the real checkpoint."""
import io
import json
import os
import pickle
import pickletools
import re
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from cosmocorr.surrogate import IAEmu, IAEmuScalers, UnsafeCheckpointError, load_state_dict
from cosmocorr.surrogate.checkpoint import load_npz
from cosmocorr.surrogate.iaemu import state_shapes

MiB = 1 << 20


# ------------------------------------------------------------------ writing torch-format files by hand
def _int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    n = (v.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def _str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _tup(vals):
    return b"(" + b"".join(_int(v) for v in vals) + b"t"


OD = b"ccollections\nOrderedDict\n"


def tensor_pickle(records):
    """The pickle torch.save writes for a state dict; records are dicts with key, skey, numel,
    offset, size, stride and optionally stype (default FloatStorage)."""
    out = b"\x80\x02" + OD + b")R("
    for r in records:
        pid = (b"(" + _str("storage") + b"ctorch\n" + r.get("stype", "FloatStorage").encode() + b"\n"
               + _str(r["skey"]) + _str("cpu") + _int(r["numel"]) + b"t")
        out += (_str(r["key"]) + b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"Q" + _int(r["offset"])
                + _tup(r["size"]) + _tup(r["stride"]) + b"\x89" + OD + b")R" + b"tR")
    return out + b"u."


def write_pt(path, records, storages, pickle_bytes=None, root="archive"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{root}/data.pkl", tensor_pickle(records) if pickle_bytes is None else pickle_bytes)
        for k, b in storages.items():
            z.writestr(f"{root}/data/{k}", b)
        z.writestr(f"{root}/version", "3\n")
    return path


def state_to_pt(path, state):
    """A float32 state dict as torch writes it (one contiguous storage per tensor)."""
    records, storages = [], {}
    for i, (k, v) in enumerate(state.items()):
        v = np.array(v, order="C")                      # (ascontiguousarray would make a 0-d array 1-d)
        st = "LongStorage" if v.dtype.kind == "i" else "FloatStorage"
        v = v.astype("<i8" if st == "LongStorage" else "<f4")
        stride = [int(np.prod(v.shape[j + 1:])) for j in range(v.ndim)]
        records.append(dict(key=k, skey=str(i), numel=v.size, offset=0, size=v.shape, stride=stride, stype=st))
        storages[str(i)] = v.tobytes()
    return write_pt(path, records, storages)


def raw_zip(path, entries):
    """A zip written field by field: entries are (name, method, data, crc, declared_size) with
    ``data`` already compressed, so sizes and CRCs can be anything."""
    body, central = b"", b""
    for name, method, data, crc, usize in entries:
        n = name.encode()
        off = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 33, crc, len(data), usize, len(n), 0) + n + data
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 33, crc, len(data), usize,
                               len(n), 0, 0, 0, 0, 0, off) + n
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(body), 0)
    Path(path).write_bytes(body + central + eocd)
    return path


def measured(fn):
    """(exception, peak traced bytes, seconds) of calling fn."""
    tracemalloc.start()
    t = time.perf_counter()
    try:
        fn()
        err = None
    except Exception as e:          # noqa: BLE001 -- the caller asserts on the type
        err = e
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return err, peak, dt


def _names(err, path, entry):
    msg = str(err)
    assert str(path) in msg and entry in msg, msg


@pytest.fixture(scope="module")
def random_state():
    """Random IAEmu weights as torch would save them: float32, plus the int64 BatchNorm counters."""
    s = {k: v.astype(np.float32) for k, v in IAEmu.random(3).state.items()}
    s.update({k: np.array(7, np.int64) for k in state_shapes() if k.endswith("num_batches_tracked")})
    return s


# ------------------------------------------------------------------ correct files load correctly
def test_written_checkpoint_round_trips_and_strides_follow_torch(tmp_path, random_state):
    m = IAEmu.from_checkpoint(state_to_pt(tmp_path / "ok.pt", random_state))
    assert sorted(m.state) == sorted(k for k in random_state if not k.endswith("num_batches_tracked"))
    for k, v in m.state.items():
        np.testing.assert_array_equal(v, random_state[k])
    # torch semantics of (offset, size, stride): element [i, j] = storage[offset + i * s0 + j * s1]
    st = np.arange(20, dtype="<f4")
    recs = [dict(key="t", skey="0", numel=20, offset=2, size=(3, 4), stride=(1, 3)),     # a transposed view
            dict(key="e", skey="0", numel=20, offset=7, size=(2, 5), stride=(0, 1)),     # expand(): stride 0
            dict(key="s", skey="0", numel=20, offset=19, size=(), stride=()),            # a scalar
            dict(key="z", skey="0", numel=20, offset=20, size=(0, 3), stride=(3, 1))]    # empty
    out = load_state_dict(write_pt(tmp_path / "views.pt", recs, {"0": st.tobytes()}))
    i, j = np.indices((3, 4))
    np.testing.assert_array_equal(out["t"], st[2 + i * 1 + j * 3])
    np.testing.assert_array_equal(out["e"], np.broadcast_to(st[7:12], (2, 5)))
    assert out["s"].shape == () and out["s"] == 19 and out["z"].shape == (0, 3)


def test_real_checkpoint_matches_the_architecture(iaemu_dir):
    """The torch-written file has exactly the entries and shapes derived from the README's
    architecture (state_shapes), in torch's own order."""
    s = load_state_dict(iaemu_dir / "iaemu.pt")
    assert [(k, v.shape) for k, v in s.items()] == [(k, tuple(v)) for k, v in state_shapes().items()]
    with pytest.raises(UnsafeCheckpointError, match="max_bytes=1048576"):
        load_state_dict(iaemu_dir / "iaemu.pt", max_bytes=MiB)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_max_bytes_is_validated(tmp_path, random_state, bad):
    with pytest.raises(ValueError, match="max_bytes"):
        load_state_dict(state_to_pt(tmp_path / "ok.pt", random_state), max_bytes=bad)


# ------------------------------------------------------------------ strides and sizes
def test_negative_stride_is_refused(tmp_path):
    """Issue 16: 4 floats viewed as 64 with stride -1 returned heap bytes as weights."""
    p = write_pt(tmp_path / "neg.pt", [dict(key="w", skey="0", numel=4, offset=3, size=(64,), stride=(-1,))],
                 {"0": np.ones(4, "<f4").tobytes()})
    with pytest.raises(UnsafeCheckpointError, match="non-negative") as e:
        load_state_dict(p)
    _names(e.value, p, "archive/data/0")


def test_huge_negative_stride_does_not_crash(tmp_path):
    """Issue 16: stride -1e9 killed the process with SIGSEGV."""
    p = write_pt(tmp_path / "neg9.pt", [dict(key="w", skey="0", numel=4, offset=3, size=(2, 2), stride=(-10**9, 1))],
                 {"0": np.ones(4, "<f4").tobytes()})
    with pytest.raises(UnsafeCheckpointError, match="non-negative"):
        load_state_dict(p)
    # and a view that leaves its storage forwards, with Python-int arithmetic beyond int64
    p2 = write_pt(tmp_path / "big.pt", [dict(key="w", skey="0", numel=4, offset=0, size=(2,), stride=(2**70,))],
                  {"0": np.ones(4, "<f4").tobytes()})
    with pytest.raises(UnsafeCheckpointError, match="reaches element"):
        load_state_dict(p2)


def test_stride_zero_huge_view_is_refused_before_allocating(tmp_path):
    """Issue 16: a 517-byte file with stride 0 became a 2.3 GiB tensor."""
    n = 600_000_000                                       # 2.4 GB of float32
    p = write_pt(tmp_path / "zero.pt", [dict(key="w", skey="0", numel=1, offset=0, size=(n,), stride=(0,))],
                 {"0": np.ones(1, "<f4").tobytes()})
    assert p.stat().st_size < 1000
    err, peak, dt = measured(lambda: load_state_dict(p))
    assert isinstance(err, UnsafeCheckpointError) and "max_bytes" in str(err), err
    _names(err, p, "archive/data/0")
    assert peak < 2 * MiB and dt < 2, (peak, dt)


# ------------------------------------------------------------------ zip bombs and damaged entries
@pytest.fixture(scope="module")
def bomb():
    """1.5 GiB of zeros deflated to ~1.5 MiB (repeated full-flush blocks), with its CRC."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MiB)
    block = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    assert co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH) == block    # position-independent after a full flush
    n = 1536
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    data = block * n + co.flush()
    return data, crc, n * MiB


def test_zip_bomb_storage_is_refused_before_inflating(tmp_path, bomb):
    """Issue 16: a 1.5 MiB entry inflated to 1.5 GiB (3.2 GB RSS) before any check."""
    data, crc, size = bomb
    pkl = tensor_pickle([dict(key="w", skey="0", numel=size // 4, offset=0, size=(size // 4,), stride=(1,))])
    p = raw_zip(tmp_path / "bomb.pt", [("archive/data.pkl", 0, pkl, zlib.crc32(pkl), len(pkl)),
                                        ("archive/data/0", 8, data, crc, size)])
    assert p.stat().st_size < 2 * MiB
    err, peak, dt = measured(lambda: load_state_dict(p))
    assert isinstance(err, UnsafeCheckpointError) and "declared uncompressed size" in str(err), err
    _names(err, p, "archive/data/0")
    assert peak < 2 * MiB and dt < 2, (peak, dt)
    # the pickle entry itself as the bomb
    p2 = raw_zip(tmp_path / "bomb2.pt", [("archive/data.pkl", 8, data, crc, size)])
    err, peak, _ = measured(lambda: load_state_dict(p2))
    assert isinstance(err, UnsafeCheckpointError) and "archive/data.pkl" in str(err) and peak < 2 * MiB, (err, peak)


def test_entry_that_inflates_past_its_declared_size_is_cut_at_that_size(tmp_path, bomb):
    """A central directory that under-declares a bomb: the bounded read stops at the declared
    4096 bytes (whose CRC is then checked), so memory stays small either way."""
    data, _, _ = bomb
    pkl = tensor_pickle([dict(key="w", skey="0", numel=1024, offset=0, size=(1024,), stride=(1,))])
    for crc, ok in ((zlib.crc32(bytes(4096)), True), (12345, False)):
        p = raw_zip(tmp_path / f"under{ok}.pt", [("archive/data.pkl", 0, pkl, zlib.crc32(pkl), len(pkl)),
                                                 ("archive/data/0", 8, data, crc, 4096)])
        err, peak, _ = measured(lambda: load_state_dict(p))
        assert peak < 2 * MiB, peak
        if ok:
            assert err is None
            np.testing.assert_array_equal(load_state_dict(p)["w"], np.zeros(1024, np.float32))
        else:
            assert isinstance(err, UnsafeCheckpointError) and "Bad CRC-32" in str(err), err
            _names(err, p, "archive/data/0")


def test_crc_error_names_file_and_entry(tmp_path, random_state):
    p = state_to_pt(tmp_path / "ok.pt", random_state)
    info = zipfile.ZipFile(p).getinfo("archive/data/5")
    raw = bytearray(p.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + 3] ^= 0xFF                                # one byte of a stored tensor, CRC unchanged
    p.write_bytes(bytes(raw))
    with pytest.raises(UnsafeCheckpointError, match="Bad CRC-32") as e:
        IAEmu.from_checkpoint(p)
    _names(e.value, p, "archive/data/5")


def test_other_zip_tricks_are_refused(tmp_path):
    pkl = tensor_pickle([])
    dup = raw_zip(tmp_path / "dup.pt", [("archive/data.pkl", 0, pkl, zlib.crc32(pkl), len(pkl))] * 2)
    with pytest.raises(UnsafeCheckpointError, match="more than once"):
        load_state_dict(dup)
    bz = raw_zip(tmp_path / "bz.pt", [("archive/data.pkl", 12, pkl, zlib.crc32(pkl), len(pkl))])
    with pytest.raises(UnsafeCheckpointError, match="compression method 12"):
        load_state_dict(bz)
    big = raw_zip(tmp_path / "cd.pt", [("archive/" + "x" * 60_000 + str(i), 0, b"", 0, 0) for i in range(80)])
    err, peak, _ = measured(lambda: load_state_dict(big))
    assert isinstance(err, UnsafeCheckpointError) and "central directory" in str(err) and peak < 2 * MiB, err
    with pytest.raises(UnsafeCheckpointError, match="archive/data/0.*missing"):
        load_state_dict(write_pt(tmp_path / "nostorage.pt", [dict(key="w", skey="0", numel=4, offset=0, size=(4,),
                                                                  stride=(1,))], {}))
    with pytest.raises(UnsafeCheckpointError, match=r"declares 8 bytes.*4 x 4 = 16"):
        load_state_dict(write_pt(tmp_path / "short.pt", [dict(key="w", skey="0", numel=4, offset=0, size=(2,),
                                                              stride=(1,))], {"0": bytes(8)}))


# ------------------------------------------------------------------ the pickle
def test_billion_laughs_is_refused_fast_with_little_memory(tmp_path):
    """Issue 16: 472 bytes of shared nested lists took 1.1 GB, doubling per level."""
    deep = [1.0]
    for _ in range(40):
        deep = [deep, deep]                                    # 2**40 leaves when expanded
    wide = [1.0] * 1000
    for _ in range(3):
        wide = [wide] * 1000                                   # 10**12 leaves, 4 levels
    for name, obj, what in (("deep", deep, "deeper than"), ("wide", wide, "elements")):
        payload = pickle.dumps({"w": obj}, protocol=2)
        p = tmp_path / f"{name}.pt"
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("archive/data.pkl", payload)
        err, peak, dt = measured(lambda: load_state_dict(p))
        assert isinstance(err, UnsafeCheckpointError) and what in str(err), err
        _names(err, p, "archive/data.pkl")
        assert peak < 4 * MiB and dt < 1, (name, peak, dt)


@pytest.mark.parametrize("payload, match", [
    (b"\x80\x02]q\x00h\x00a.", "inside itself"),                           # l = []; l.append(l)
    (b"\x80\x02]q\x00]q\x01h\x00aa.", "modified after being placed"),     # b.append(a); a.append(b): a cycle
    (b"\x80\x02}(K\x01K\x02u.", "entry '1': the state dict maps it to a int, not a tensor"),   # {1: 2}
    (b"\x80\x02}(]K\x01u.", "dict key of type list"),
    (b"\x80\x02}X\x01\x00\x00\x00wK\x01\x85Rs.", "non-callable"),
    (b"\x80\x02cbuiltins\ngetattr\n.", "refusing to load global 'builtins.getattr'"),
    (b"\x80\x02\x8c\x08builtins\x8c\x04eval\x93.", "refusing to load global 'builtins.eval'"),
    (b"\x80\x02}I1\n.", "unsupported pickle opcode"),
    (b"\x80\x02}", "ends without STOP"),
    (b"\x80\x02}0.", "unsupported pickle opcode"),
    (b"\x80\x02X\xff\xff\xff\x7fab.", "ends early"),
])
def test_malformed_pickles_are_clean_errors(tmp_path, payload, match):
    p = tmp_path / "bad.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/data.pkl", payload)
    with pytest.raises(UnsafeCheckpointError, match=match) as e:
        load_state_dict(p)
    _names(e.value, p, "entry '1'" if "'1'" in match else "archive/data.pkl")


# ------------------------------------------------------------------ shapes against the architecture
@pytest.mark.parametrize("key, shape", [("encoder.layer1.2.running_mean", (1,)), ("encoder.layer2.0.bias", (1,)),
                                        ("decoder2.conv3.weight", (28, 28, 1)), ("encoder.layer2.0.weight", (128, 7))])
def test_wrong_shapes_are_refused_like_strict_torch(tmp_path, random_state, key, shape):
    """Issue 16: a BatchNorm running_mean or a bias of shape (1,) broadcast and changed outputs by
    up to 3.3 with no error."""
    bad = dict(random_state)
    bad[key] = np.ones(shape, np.float32)
    p = state_to_pt(tmp_path / "bad.pt", bad)
    with pytest.raises(ValueError, match=re.escape(f"entry '{key}': shape {shape}, the architecture needs")) as e:
        IAEmu.from_checkpoint(p)
    assert str(p) in str(e.value)
    with pytest.raises(ValueError, match=rf"entry '{key}'"):
        IAEmu(bad)


def test_missing_and_unknown_entries_are_refused(tmp_path, random_state):
    bad = dict(random_state)
    del bad["decoder3.bn6.running_var"]
    bad["decoder4.conv1.weight"] = np.ones((14, 7, 3), np.float32)
    p = state_to_pt(tmp_path / "bad.pt", bad)
    with pytest.raises(ValueError, match="missing entries 'decoder3.bn6.running_var'.*unexpected entries "
                                         "'decoder4.conv1.weight'"):
        IAEmu.from_checkpoint(p)
    # torch's strict load wants the BatchNorm counters of a .pt too; an in-memory dict may omit them
    nobuf = {k: v for k, v in random_state.items() if not k.endswith("num_batches_tracked")}
    with pytest.raises(ValueError, match="missing entries 'encoder.layer1.2.num_batches_tracked'"):
        IAEmu.from_checkpoint(state_to_pt(tmp_path / "nobuf.pt", nobuf))
    IAEmu(nobuf)
    nan = dict(random_state, **{"encoder.layer1.0.bias": np.full(128, np.nan, np.float32)})
    with pytest.raises(ValueError, match="entry 'encoder.layer1.0.bias': contains NaN"):
        IAEmu(nan)


def test_npz_weights_are_read_within_limits(tmp_path, random_state):
    p = tmp_path / "m.npz"
    IAEmu(random_state).save_npz(p)
    np.testing.assert_array_equal(IAEmu.from_npz(p).state["encoder.layer1.0.weight"],
                                  random_state["encoder.layer1.0.weight"])
    # an .npy header that declares 10**12 elements over 8 bytes of data: refused before allocating
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    q = tmp_path / "liar.npz"
    with zipfile.ZipFile(q, "w") as z:
        z.writestr("w.npy", hdr.getvalue() + bytes(8))
    err, peak, _ = measured(lambda: load_npz(q))
    assert isinstance(err, UnsafeCheckpointError) and "needs 8000000000000 bytes" in str(err) and peak < MiB, err
    _names(err, q, "w.npy")
    r = tmp_path / "obj.npz"
    np.savez(r, w=np.array([None, 1], dtype=object))
    with pytest.raises(UnsafeCheckpointError, match="entry 'w.npy': dtype object"):
        load_npz(r)


# ------------------------------------------------------------------ scalers
def test_scaler_shapes_and_files_are_checked(tmp_path):
    good = dict(x_mean=[0.0] * 7, x_std=[1.0] * 7, y_mean=[0.0] * 3, y_std=[1.0] * 3)
    with pytest.raises(ValueError, match=r"x_std must have shape \(7,\)"):
        IAEmuScalers(**dict(good, x_std=[2.0]))                 # would broadcast over the 7 inputs
    with pytest.raises(ValueError, match="y_std must be positive"):
        IAEmuScalers(**dict(good, y_std=[1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="log_outputs must be 3 booleans"):
        IAEmuScalers(**good, log_outputs=(1, 0, 0))
    cases = {"short.json": dict(good, y_std=[1.0]), "extra.json": dict(good, z=[1]),
             "nested.json": dict(good, x_mean=[[0.0] * 7]), "nan.json": dict(good, x_mean=[float("nan")] * 7)}
    for name, d in cases.items():
        (tmp_path / name).write_text(json.dumps(d))
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "junk.json").write_bytes(b"\xff\xfe{")
    expect = {"short.json": "entry 'y_std'", "extra.json": "unexpected entries 'z'", "nested.json": "entry 'x_mean'",
              "nan.json": "entry 'x_mean'", "deep.json": "not a JSON scaler file", "junk.json": "not a JSON"}
    for name, match in expect.items():
        with pytest.raises(ValueError, match=match) as e:
            IAEmuScalers.load(tmp_path / name)
        assert str(tmp_path / name) in str(e.value)
    np.savez(tmp_path / "s.npz", **{k: np.asarray(v) for k, v in good.items()}, log_outputs=np.array([True, False, True]))
    s = IAEmuScalers.load(tmp_path / "s.npz")
    assert s.log_outputs == (True, False, True) and s.x_std.shape == (7,)
    np.savez(tmp_path / "bad.npz", **{k: np.asarray(v) for k, v in dict(good, x_std=np.ones(1)).items()})
    with pytest.raises(ValueError, match="entry 'x_std'"):
        IAEmuScalers.load(tmp_path / "bad.npz")


# ------------------------------------------------------------------ fuzzing the real checkpoint
FUZZ_SEED, FUZZ_N, FUZZ_MAX_BYTES = 20261124, 200, 64 * MiB


def _rezip(contents):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in contents.items():
            z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def _mutants(real, seed, n):
    """n deterministic mutants (kind, bytes) of the checkpoint ``real``."""
    rng = np.random.default_rng(seed)
    zf = zipfile.ZipFile(io.BytesIO(real))
    infos = zf.infolist()
    contents = {i.filename: zf.read(i) for i in infos}
    pkl_name = next(k for k in contents if k.endswith("data.pkl"))
    pkl = contents[pkl_name]
    arg_len = {"BININT1": 1, "BINGET": 1, "BININT2": 2, "BININT": 4, "LONG_BINGET": 4, "BINUNICODE": 4}
    int_args = [(pos + 1, arg_len[op.name]) for op, _, pos in pickletools.genops(pkl) if op.name in arg_len]
    structural = [(i.header_offset, 30 + len(i.filename)) for i in infos]
    structural.append((zf.start_dir, len(real) - zf.start_dir))
    interesting = [0, 1, 0x7F, 0x80, 0xFF, ord("("), ord("t"), ord("R"), ord("Q"), ord("h"), ord("]"), ord("a")]

    def flip(buf, k, where=None):
        b = bytearray(buf)
        for _ in range(k):
            r = rng.random()
            pos = int(rng.integers(len(b))) if where is None else where()
            val = int(rng.choice(interesting)) if rng.random() < 0.4 else int(rng.integers(256))
            if r < 0.7 or where is not None:
                b[pos] = val
            elif r < 0.85:
                del b[pos]
            else:
                b.insert(pos, val)
        return bytes(b)

    def in_structure():
        off, ln = structural[int(rng.integers(len(structural)))]
        return off + int(rng.integers(ln))

    plan = ["pickle"] * 90 + ["pickle-args"] * 30 + ["zip"] * 45 + ["storage"] * 15 + ["truncate"] * 20
    for i in range(n):
        kind = plan[i % len(plan)]
        if kind == "pickle":
            out = _rezip(dict(contents, **{pkl_name: flip(pkl, int(rng.integers(1, 5)))}))
        elif kind == "pickle-args":
            b = bytearray(pkl)
            for _ in range(int(rng.integers(1, 3))):
                pos, ln = int_args[int(rng.integers(len(int_args)))]
                b[pos:pos + ln] = bytes(int(rng.choice([0, 0xFF, 0x80, 0x7F, int(rng.integers(256))])) for _ in range(ln))
            out = _rezip(dict(contents, **{pkl_name: bytes(b)}))
        elif kind == "zip":
            out = flip(real, int(rng.integers(1, 4)), where=in_structure if rng.random() < 0.7 else None)
        elif kind == "storage":
            names = [k for k in contents if "/data/" in k]
            k = names[int(rng.integers(len(names)))]
            out = _rezip(dict(contents, **{k: flip(contents[k], int(rng.integers(1, 5)))}))
        else:                                   # cut the tail, cut a piece out of the middle, or append junk
            a, r = sorted(int(v) for v in rng.integers(len(real), size=2)), rng.random()
            junk = rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
            out = real[:a[1]] if r < 0.3 else real[:a[0]] + real[a[1]:] if r < 0.7 else real + junk
        yield kind, out


def _fuzz_child(src, workdir, seed, n, max_bytes):
    """Run in a separate process (a crash cannot take pytest down): one JSON line per mutant."""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))        # backstop: fail, never swamp the machine
    real = Path(src).read_bytes()
    expected = {k: v for k, v in state_shapes().items() if not k.endswith("num_batches_tracked")}
    IAEmu.from_checkpoint(src)                                         # warm up: the baseline includes one load
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # peak resident set (KiB on Linux)
    path = Path(workdir) / "mutant.pt"
    for i, (kind, data) in enumerate(_mutants(real, seed, n)):
        path.write_bytes(data)
        t = time.perf_counter()
        try:
            m = IAEmu.from_checkpoint(path, max_bytes=max_bytes)
            ok = {k: v.shape for k, v in m.state.items()} == expected
            outcome, detail = ("loaded" if ok else "WRONG-SHAPES"), ""
            del m
        except UnsafeCheckpointError as e:
            outcome, detail = "UnsafeCheckpointError", str(e)
        except ValueError as e:
            outcome, detail = "ValueError", str(e)
        except BaseException as e:  # noqa: BLE001 -- reported, and the test fails on it
            outcome, detail = f"OTHER {type(e).__name__}", repr(e)
        dt = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base   # growth of the peak RSS so far
        print(json.dumps(dict(i=i, kind=kind, outcome=outcome, seconds=dt, peak=peak,
                              names_file=str(path) in detail if detail else True, detail=detail[:300])), flush=True)


def test_fuzzed_real_checkpoint_gives_clean_errors_or_correct_loads(iaemu_dir, tmp_path):
    """200 seeded mutants of the real checkpoint's zip structure, pickle, pickle arguments,
    storages and length: every outcome is UnsafeCheckpointError / ValueError naming the file,
    or a load with exactly the architecture's shapes; none crashes, takes over 5 s or raises the
    process's peak resident memory by max_bytes (64 MiB here) over a clean load's."""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_checkpoint_safety as t; "
            f"t._fuzz_child({str(iaemu_dir / 'iaemu.pt')!r}, {str(tmp_path)!r}, {FUZZ_SEED}, {FUZZ_N}, {FUZZ_MAX_BYTES})")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", COSMOCORR_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and len(rows) == FUZZ_N, (proc.returncode, len(rows), proc.stderr[-2000:])
    counts = {}
    for r in rows:
        counts[(r["kind"], r["outcome"])] = counts.get((r["kind"], r["outcome"]), 0) + 1
    print("fuzz outcomes:", sorted(counts.items()), "max seconds %.3f" % max(r["seconds"] for r in rows),
          "peak RSS growth MiB %.1f" % (max(r["peak"] for r in rows) / MiB))
    bad = [r for r in rows if r["outcome"] not in ("loaded", "UnsafeCheckpointError", "ValueError")]
    assert not bad, bad[:5]
    assert all(r["names_file"] for r in rows), [r for r in rows if not r["names_file"]][:5]
    assert max(r["seconds"] for r in rows) < 5
    assert max(r["peak"] for r in rows) < FUZZ_MAX_BYTES
    # the fuzz reaches deep: both outcomes occur, and the pickle mutants hit the interpreter's checks
    assert any(r["outcome"] == "loaded" for r in rows) and any(r["outcome"] == "UnsafeCheckpointError" for r in rows)
