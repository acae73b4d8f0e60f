"""The backend switch, the Julia bridge, its packaging and discovery, and the self-test stamp.

The always-run tests check the decision logic ("auto" picks Julia only with a matching, passing
self-test stamp), the error a user sees, the stamp logic (stamps and juliapkg state written by
hand in tmp dirs), how juliapkg discovers CosmoCorr in checkout, editable and installed layouts
(``juliapkg.deps.find_requirements()`` runs without Julia), that ``python -m build`` ships the
Julia sources, and the lint/format of the Julia module. The parity tests compare every Julia
kernel with the NumPy reference and skip (with the reason) where Julia is not installed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import cosmocorr
from cosmocorr import backends as backend
from cosmocorr.backends import julia_bridge as julia
from cosmocorr.backends import numpy_kernels as _kernels_numpy
from cosmocorr.sky.synthetic import synthetic_shear_catalog

ROOT = Path(__file__).resolve().parents[1]
PROJECT_UUID = re.search(r'^uuid = "([^"]+)"', (ROOT / "julia" / "Project.toml").read_text(), re.M).group(1)


def test_import_does_not_load_juliacall():
    code = "import sys, cosmocorr; cosmocorr.shear_shear; print('juliacall' in sys.modules, 'juliapkg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_auto_decision_never_imports_juliacall():
    code = ("import sys, cosmocorr; from cosmocorr import backends as backend; "
            "from cosmocorr.backends import julia_bridge as julia; "
            "r = backend.resolve_backend('auto'); print(r, julia.auto_ready(), 'juliacall' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    name, ready, imported = out.stdout.split()
    assert imported == "False"
    assert name == ("julia" if ready == "True" else "numpy")


needs_no_julia = pytest.mark.skipif(julia.julia_ready(), reason="Julia is installed here; this checks the error without it")


@needs_no_julia
def test_asking_for_julia_gives_one_clear_error(monkeypatch):
    with pytest.raises(julia.JuliaNotAvailableError, match=r"cosmocorr julia install"):
        cosmocorr.set_backend("julia")
    cat = synthetic_shear_catalog(20, seed=0)
    with pytest.raises(julia.JuliaNotAvailableError, match="Julia backend not available"):
        cosmocorr.shear_shear(cat, min_sep=1, max_sep=10, nbins=2, spacing="linear", backend="julia")
    monkeypatch.setenv("COSMOCORR_BACKEND", "julia")
    with pytest.raises(julia.JuliaNotAvailableError):
        cosmocorr.shear_shear(cat, min_sep=1, max_sep=10, nbins=2, spacing="linear")
    assert "juliacall" not in sys.modules


def test_backend_selection(monkeypatch):
    monkeypatch.setattr(backend, "_chosen", None)
    monkeypatch.delenv("COSMOCORR_BACKEND", raising=False)
    assert backend.get_backend() == "auto"
    assert backend.resolve_backend() == ("julia" if julia.auto_ready() else "numpy")
    monkeypatch.setenv("COSMOCORR_BACKEND", " NumPy ")
    assert backend.resolve_backend() == "numpy"
    assert backend.get_kernels() is _kernels_numpy
    monkeypatch.setenv("COSMOCORR_BACKEND", "cuda")
    with pytest.raises(ValueError, match="COSMOCORR_BACKEND"):
        backend.get_backend()
    monkeypatch.delenv("COSMOCORR_BACKEND")
    assert cosmocorr.set_backend("numpy") == "numpy"
    assert backend.get_backend() == "numpy"
    with pytest.raises(ValueError, match="backend"):
        cosmocorr.set_backend("fortran")
    with pytest.raises(TypeError, match="backend"):
        cosmocorr.set_backend(3)


# ---------------------------------------------------------------- juliapkg.json files
def _read(path):
    return json.loads(Path(path).read_text())


def _toml_table(text, name):
    """{key: value} of the string entries of one [table] of a TOML file (stdlib tomllib on 3.11+)."""
    body = text.split(f"[{name}]\n", 1)[1] if f"[{name}]\n" in text else ""
    body = body.split("\n[", 1)[0]
    return dict(re.findall(r'^(\w+) = "([^"]+)"$', body, re.M))


STDLIBS = {"LinearAlgebra"}   # versioned with Julia itself: no compat entry in juliapkg.json


def test_juliapkg_files_agree_with_project_toml():
    """The top-level juliapkg.json lists every [deps] entry of julia/Project.toml (same UUID; the
    Project.toml compat as version, stdlibs without), so that a new dependency of CosmoCorr
    changes juliapkg.json and so forces juliapkg to resolve again; it names the registered
    deps (General registry UUIDs) but not CosmoCorr; the two anchors name CosmoCorr at ../julia."""
    top = _read(ROOT / "juliapkg.json")
    proj = (ROOT / "julia" / "Project.toml").read_text()
    assert "CosmoCorr" not in top["packages"]
    deps = _toml_table(proj, "deps")
    assert deps and set(top["packages"]) == set(deps)
    for name, uuid in deps.items():
        assert top["packages"][name]["uuid"] == uuid, name
        if name in STDLIBS:
            assert "version" not in top["packages"][name], name
        else:
            assert top["packages"][name]["version"] == _toml_table(proj, "compat")[name], name
    known = {  # the General registry's UUIDs
        "OrdinaryDiffEq": "1dea7af3-3e70-54e6-95c3-0bf5283fa5ed",
        "ForwardDiff": "f6369f11-7733-5829-9624-2563aa707210",
        "ChainRulesCore": "d360d2e6-b24c-11e9-a2a3-2a2ae2dbcce4",
    }
    compat = _toml_table(proj, "compat")
    for name, uuid in known.items():
        assert top["packages"][name]["uuid"] == uuid
        assert f'{name} = "{uuid}"' in proj
        assert top["packages"][name]["version"] == compat[name], name
    # the reverse-mode packages are weak dependencies, not in the core juliapkg.json
    weak = _toml_table(proj, "weakdeps")
    assert set(weak) == set(julia.REVERSE_PACKAGES) == {"Zygote", "SciMLSensitivity"}
    assert not set(weak) & set(top["packages"])
    for name, spec in julia.REVERSE_PACKAGES.items():
        assert spec == {"uuid": weak[name], "version": compat[name]}, name
    for anchor in ("cosmocorr/juliapkg.json", "cosmocorr_julia/juliapkg.json"):
        spec = _read(ROOT / anchor)
        entry = spec["packages"]["CosmoCorr"]
        assert entry["uuid"] == PROJECT_UUID and entry["dev"] is True
        assert (ROOT / anchor).parent.joinpath(entry["path"]).resolve() == (ROOT / "julia").resolve()
        assert spec["julia"] == top["julia"] == compat["julia"]
    major, minor = (int(x) for x in top["julia"].split(".")[:2])
    assert (major, minor) >= (1, 10)


# ---------------------------------------------------------------- build and discovery
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """sdist, then the wheel from the sdist (`python -m build`), installed into a target dir."""
    pytest.importorskip("build", reason="the 'build' package (test extra) runs `python -m build`")
    out = tmp_path_factory.mktemp("dist")
    # with the test extras (setuptools, wheel) installed, build without an isolated environment:
    # offline and ~7 s; otherwise let `build` fetch them from PyPI into one
    isolation = ["--no-isolation"] if _build_backend_installed() else []
    run = subprocess.run([sys.executable, "-m", "build", *isolation, "--outdir", str(out), str(ROOT)],
                         capture_output=True, text=True, timeout=300)
    if run.returncode != 0 and re.search(r"(?i)connection|network|temporary failure|could not find a version",
                                         run.stdout + run.stderr):
        pytest.skip("`python -m build` needs PyPI for its isolated build environment, unreachable here")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    wheel = next(out.glob("*.whl"))
    sdist = next(out.glob("*.tar.gz"))
    target = tmp_path_factory.mktemp("site")
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                           str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr[-3000:]
    return SimpleNamespace(wheel=wheel, sdist=sdist, target=target)


def _build_backend_installed():
    try:
        import setuptools
        import wheel  # noqa: F401 - bdist_wheel for setuptools < 70.1
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 64


def test_build_ships_julia_sources(built):
    import tarfile
    import zipfile

    with tarfile.open(built.sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for required in ("juliapkg.json", "cosmocorr/juliapkg.json", "cosmocorr_julia/juliapkg.json",
                     "julia/Project.toml", "julia/src/CosmoCorr.jl", "julia/ext/CosmoCorrReverseExt.jl",
                     "julia/test/runtests.jl", "setup.py"):
        assert required in names, required
    with zipfile.ZipFile(built.wheel) as zf:
        wnames = set(zf.namelist())
        spec = json.loads(zf.read("cosmocorr_julia/juliapkg.json"))
    assert "cosmocorr/juliapkg.json" not in wnames  # the checkout's anchor points at ../julia
    entry = spec["packages"]["CosmoCorr"]
    assert entry["uuid"] == PROJECT_UUID and entry["dev"] is True
    jdir = f"cosmocorr_julia/{entry['path']}"
    srcs = sorted(n.rsplit("/", 1)[1] for n in wnames if n.startswith(f"{jdir}/src/") and n.endswith(".jl"))
    assert srcs == sorted(p.name for p in (ROOT / "julia" / "src").glob("*.jl"))
    assert f"{jdir}/Project.toml" in wnames
    assert f"{jdir}/ext/CosmoCorrReverseExt.jl" in wnames
    assert not any(n.startswith(f"{jdir}/test/") for n in wnames)
    top = _read(ROOT / "juliapkg.json")
    assert {k: v for k, v in spec["packages"].items() if k != "CosmoCorr"} == top["packages"]
    # installed copy: the sources sit where its juliapkg.json points
    installed = built.target / "cosmocorr_julia"
    assert (installed / entry["path"] / "src" / "CosmoCorr.jl").read_text() == \
        (ROOT / "julia" / "src" / "CosmoCorr.jl").read_text()


DISCOVER = textwrap.dedent("""
    import json, os, sys, types
    from juliapkg import deps
    cfg = json.loads(sys.argv[1])
    # drop any real editable-install finder; add a simulated one when asked
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable___")]
    if cfg.get("editable"):
        name = "__editable___cosmocorr_0_0_0_finder"
        mod = types.ModuleType(name)
        mod.MAPPING = {"cosmocorr": cfg["editable"]}
        sys.modules[name] = mod
        finder = type("_EditableFinder", (), {"__module__": name, "find_spec": classmethod(lambda *a, **k: None)})
        sys.meta_path.append(finder)
    # the rest of sys.path without the repository and without any real cosmocorr install
    # (the test venv's own), so that each layout below is the only one present
    def foreign(p):
        p = os.path.abspath(p or ".")
        return p == os.path.abspath(cfg["root"]) or any(
            os.path.isfile(os.path.join(p, sub, "juliapkg.json")) for sub in ("cosmocorr", "cosmocorr_julia"))
    sys.path[:] = cfg["front"] + [p for p in sys.path[1:] if not foreign(p)]
    try:
        _, specs = deps.find_requirements()
        print(json.dumps([s.path for s in specs if s.name == "CosmoCorr"]))
    except Exception as exc:
        print(json.dumps({"error": str(exc)}))
""")


def _discover(cwd, front=(), editable=None):
    """CosmoCorr paths juliapkg finds in a fresh Python whose sys.path starts with ``front``
    ("" is the working directory, as for `python -c`), optionally with an editable finder."""
    cfg = {"front": list(front), "editable": editable, "root": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", DISCOVER, json.dumps(cfg)], capture_output=True, text=True,
                         cwd=cwd, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _norm(p):
    return os.path.normcase(os.path.normpath(str(p)))


def _fake_checkout(parent, name):
    """A checkout's juliapkg.json files and Julia project folder, in parent/name."""
    root = Path(parent) / name
    for rel in ("juliapkg.json", "cosmocorr/juliapkg.json", "cosmocorr_julia/juliapkg.json", "julia/Project.toml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    return root


def test_discovery_in_checkout_and_editable(tmp_path):
    # in the checkout: Python started in the repository root (sys.path[0] == "")
    assert _discover(ROOT, front=[""]) == [_norm(ROOT / "julia")]
    # editable install run from elsewhere: found through the editable finder's package folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _discover(elsewhere, front=[""], editable=str(ROOT / "cosmocorr")) == [_norm(ROOT / "julia")]
    # a checkout moved to a folder of another name resolves the same way (no folder-name test)
    moved = _fake_checkout(tmp_path, "renamed-copy")
    assert _discover(moved, front=[""]) == [_norm(moved / "julia")]


def test_discovery_installed(built, tmp_path):
    site = str(built.target)
    installed = _norm(built.target / "cosmocorr_julia" / "CosmoCorr")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _discover(elsewhere, front=["", site]) == [installed]
    # started in the repository root: the checkout comes first on sys.path, as for `import`
    assert _discover(ROOT, front=["", site]) == [_norm(ROOT / "julia")]
    # a checkout in a sub-folder of the working directory, whatever its name: only the
    # installed copy names a CosmoCorr path (the checkout's top-level juliapkg.json does not)
    projects = tmp_path / "projects"
    for name in ("cosmocorr", "cosmocorr-dev"):
        _fake_checkout(projects, name)
    assert _discover(projects, front=["", site]) == [installed]


# ---------------------------------------------------------------- state and stamp (no Julia)
def _fake_env(tmp_path, monkeypatch, source=None):
    """A resolved juliapkg state written by hand: meta.json, an 'executable', a Manifest and
    CosmoCorr developed from ``source`` (a copy of julia/ by default)."""
    from juliapkg import deps
    from juliapkg.state import STATE

    project = tmp_path / "julia_env"
    prefix = project / "pyjuliapkg"
    prefix.mkdir(parents=True)
    monkeypatch.setitem(STATE, "project", str(project))
    monkeypatch.setitem(STATE, "prefix", str(prefix))
    monkeypatch.setitem(STATE, "meta", str(prefix / "meta.json"))
    monkeypatch.setitem(STATE, "deps", str(prefix / "juliapkg.json"))
    monkeypatch.setitem(STATE, "override_executable", None)
    monkeypatch.setitem(STATE, "dev", False)
    monkeypatch.setitem(STATE, "offline", False)
    exe = tmp_path / "bin" / "julia"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    (project / "Manifest.toml").write_text('julia_version = "1.11.5"\nmanifest_format = "2.0"\n')
    if source is None:
        source = tmp_path / "src_copy" / "CosmoCorr"
        shutil.copytree(ROOT / "julia", source, ignore=shutil.ignore_patterns("test"))
    meta = {"meta_version": deps.META_VERSION, "dev": False, "version": "1.11.5", "executable": str(exe),
            "deps_files": {fn: {"timestamp": os.path.getmtime(fn), "hash_sha256": julia._sha256(fn)}
                           for fn in deps.deps_files()},
            "pkgs": [{"name": "CosmoCorr", "uuid": PROJECT_UUID, "dev": True, "path": str(source)}],
            "offline": False, "override_executable": None}
    (prefix / "meta.json").write_text(json.dumps(meta))
    julia._reset_caches()
    monkeypatch.setattr(backend, "_chosen", None)
    monkeypatch.delenv("COSMOCORR_BACKEND", raising=False)
    return SimpleNamespace(project=project, prefix=prefix, source=Path(source), meta=meta)


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    env = _fake_env(tmp_path, monkeypatch)
    yield env
    julia._reset_caches()


def _stamp(env, **changes):
    functions = {name: {"passed": True, "max_abs_diff": 1e-15} for name in julia.SELFTEST_FUNCTIONS}
    stamp = {"stamp_version": julia.STAMP_VERSION, **env, "passed": True, "functions": functions,
             "created": "2026-01-01T00:00:00+00:00"}
    stamp.update(changes)
    return stamp


def test_check_stamp_logic(tmp_path):
    env = {"cosmocorr_version": "0.1.0", "julia_version": "1.11.5", "julia_executable": "/x/julia",
           "manifest_sha256": "a" * 64, "cosmocorr_jl_sha256": "b" * 64}
    path = tmp_path / "stamp.json"
    ok, why = julia.check_stamp(path, env)
    assert not ok and "no self-test stamp" in why and "cosmocorr julia selftest" in why
    path.write_text("{not json")
    assert not julia.check_stamp(path, env)[0]
    path.write_text(json.dumps(_stamp(env)))
    assert julia.check_stamp(path, env) == (True, "self-test passed (2026-01-01T00:00:00+00:00)")
    for key, other in (("cosmocorr_version", "0.0.9"), ("julia_version", "1.10.0"), ("manifest_sha256", "c" * 64),
                       ("cosmocorr_jl_sha256", "d" * 64), ("julia_executable", "/y/julia")):
        path.write_text(json.dumps(_stamp(env, **{key: other})))
        ok, why = julia.check_stamp(path, env)
        assert not ok and key.replace("_", " ") in why and other in why
    bad = _stamp(env)
    bad["functions"]["xi_plus_gradient_c_reverse"] = {"passed": False, "max_abs_diff": 0.3}
    bad["passed"] = False
    path.write_text(json.dumps(bad))
    ok, why = julia.check_stamp(path, env)
    assert not ok and "xi_plus_gradient_c_reverse" in why and "0.3" in why
    partial = _stamp(env)
    del partial["functions"]["bin_index"]
    path.write_text(json.dumps(partial))
    ok, why = julia.check_stamp(path, env)
    assert not ok and "bin_index" in why
    path.write_text(json.dumps(_stamp(env, passed=False)))
    assert not julia.check_stamp(path, env)[0]
    path.write_text(json.dumps(_stamp(env, stamp_version=0)))
    assert not julia.check_stamp(path, env)[0]
    # an environment juliapkg cannot describe never verifies
    path.write_text(json.dumps(_stamp(env)))
    assert not julia.check_stamp(path, {**env, "manifest_sha256": None})[0]


def test_auto_needs_a_matching_passing_stamp(fake_env):
    assert julia.julia_ready(), julia.reason()
    assert "CosmoCorr from" in julia.reason()
    # resolved but never self-tested: "auto" stays on NumPy and says why
    assert not julia.auto_ready()
    assert backend.resolve_backend("auto") == "numpy"
    info = julia.status()
    assert info["julia_ready"] and not info["verified"] and info["auto_resolves_to"] == "numpy"
    assert "no self-test stamp" in info["auto_reason"] and info["stamp"] == str(fake_env.prefix / julia.STAMP_NAME)
    # a passing stamp for exactly this environment: "auto" picks Julia (without importing juliacall)
    env = julia.current_environment()
    assert env["julia_version"] == "1.11.5" and env["cosmocorr_version"] == cosmocorr.__version__
    julia.stamp_path().write_text(json.dumps(_stamp(env)))
    julia._reset_caches()
    assert julia.auto_ready() and backend.resolve_backend("auto") == "julia"
    assert backend.resolve_backend("numpy") == "numpy"
    assert "juliacall" not in sys.modules
    # editing the Julia sources invalidates the stamp
    (fake_env.source / "src" / "pairs.jl").write_text("# edited\n")
    julia._reset_caches()
    assert not julia.auto_ready() and backend.resolve_backend("auto") == "numpy"
    assert "cosmocorr jl sha256" in julia.auto_reason()
    # so does a new Manifest
    julia.stamp_path().write_text(json.dumps(_stamp(julia.current_environment())))
    julia._reset_caches()
    assert julia.auto_ready()
    (fake_env.project / "Manifest.toml").write_text('julia_version = "1.11.5"\n# re-resolved\n')
    julia._reset_caches()
    assert not julia.auto_ready() and "manifest sha256" in julia.auto_reason()


def test_check_state_compares_deps_files_as_juliapkg(fake_env, tmp_path, monkeypatch):
    assert julia.julia_ready()
    # a new juliapkg.json on sys.path since the resolve
    extra = tmp_path / "newpath" / "otherpkg"
    extra.mkdir(parents=True)
    (extra / "juliapkg.json").write_text(json.dumps({"packages": {}}))
    monkeypatch.syspath_prepend(str(extra.parent))
    julia._reset_caches()
    assert not julia.julia_ready() and "found since the last resolve" in julia.reason()
    assert backend.resolve_backend("auto") == "numpy"


def test_check_state_failures(tmp_path, monkeypatch):
    env = _fake_env(tmp_path, monkeypatch)
    meta = dict(env.meta)
    julia._reset_caches()
    assert julia.julia_ready()

    def with_meta(**changes):
        (env.prefix / "meta.json").write_text(json.dumps({**meta, **changes}))
        julia._reset_caches()
        return julia.julia_ready(), julia.reason()

    assert with_meta(executable=str(tmp_path / "nope"))[1].startswith("the Julia executable")
    ok, why = with_meta(pkgs=[])
    assert not ok and "does not include CosmoCorr" in why
    ok, why = with_meta(deps_files={**meta["deps_files"], str(tmp_path / "gone.json"): {"timestamp": 0}})
    assert not ok and "no longer found" in why
    ok, why = with_meta(override_executable="/opt/julia")
    assert not ok and "PYTHON_JULIAPKG_EXE" in why
    # CosmoCorr developed from a folder of any name is fine
    other = tmp_path / "some" / "unrelated-name"
    shutil.copytree(env.source, other)
    assert with_meta(pkgs=[{"name": "CosmoCorr", "uuid": PROJECT_UUID, "dev": True, "path": str(other)}])[0]
    (env.project / "Manifest.toml").unlink()
    ok, why = with_meta()
    assert not ok and "Manifest" in why
    (env.prefix / "meta.json").unlink()
    julia._reset_caches()
    assert not julia.julia_ready() and "has not resolved" in julia.reason()
    julia._reset_caches()


def test_selftest_writes_the_stamp_auto_reads(fake_env, monkeypatch):
    """The self-test plumbing without Julia: the NumPy kernels stand in for the Julia ones; a
    deviating kernel fails the stamp and keeps "auto" on NumPy."""
    ns = SimpleNamespace(pair_sums=_kernels_numpy.pair_sums, bin_index=_kernels_numpy.bin_index,
                         fcm_iterate=_kernels_numpy.fcm_iterate,
                         field_pair_sums=getattr(_kernels_numpy, "field_pair_sums", None))
    monkeypatch.setattr(julia, "kernels", lambda: ns)
    monkeypatch.setattr(julia, "load", lambda: SimpleNamespace(
        seval=lambda code: {"string(VERSION)": "1.11.5", "Threads.nthreads()": 4}[code]))
    # the checks other layers add (gravity, sparse fuzzy c-means), stood in for here
    grav = [(name, lambda k: ({"xi": np.ones(3)}, {"xi": np.ones(3) + 1e-12}, 1e-6, 0.0))
            for name in julia.SELFTEST_FUNCTIONS if name.startswith(("xi_plus", "sparse_fcm"))]
    # the NK/KK/NG/KG checks run when this cosmocorr has their NumPy reference, else are skipped
    has_field = ns.field_pair_sums is not None
    field = julia.SELFTEST_FAMILIES["field_pair_sums"]
    lines = []
    stamp = julia.selftest(grav, echo=lines.append)
    assert stamp["passed"], stamp["functions"]
    assert set(stamp["functions"]) == set(julia.SELFTEST_FUNCTIONS)
    assert len(lines) == len(julia.SELFTEST_FUNCTIONS)
    assert all(line.strip().startswith("ok" if has_field or not any(f"{n}:" in line for n in field) else "skip")
               for line in lines)
    assert json.loads(julia.stamp_path().read_text()) == stamp
    assert stamp["julia_threads"] == 4 and stamp["julia_version"] == "1.11.5"
    assert julia.auto_ready() == has_field and backend.resolve_backend("auto") == ("julia" if has_field else "numpy")
    assert julia.auto_ready("pair_sums") and backend.resolve_backend("auto", family="pair_sums") == "julia"
    # a kernel off by more than its tolerance
    ns.pair_sums = lambda *a, **k: {key: v * (1 + 1e-6) for key, v in _kernels_numpy.pair_sums(*a, **k).items()}
    stamp = julia.selftest(grav, echo=None)
    assert not stamp["passed"] and not stamp["functions"]["pair_sums_auto"]["passed"]
    assert stamp["functions"]["bin_index"]["passed"]
    assert not julia.auto_ready("pair_sums") and backend.resolve_backend("auto", family="pair_sums") == "numpy"
    assert julia.auto_ready("bin_index")
    assert "pair_sums_auto" in julia.status()["auto_reason"]
    # a case that raises is a failure, not a crash
    stamp = julia.selftest([(grav[0][0], lambda k: 1 / 0)] + grav[1:], echo=None)
    assert "ZeroDivisionError" in stamp["functions"][grav[0][0]]["error"]


def test_compare_handles_nan_and_shapes():
    ok = julia._compare({"a": [1.0, np.nan]}, {"a": [1.0 + 1e-12, np.nan]}, 1e-10, 0.0)
    assert ok["passed"] and ok["max_abs_diff"] < 1e-11
    assert not julia._compare({"a": [1.0, 2.0]}, {"a": [1.0, np.nan]}, 1e-10, 0.0)["passed"]
    assert not julia._compare({"a": [1.0, 2.0]}, {"a": [1.0]}, 1e-10, 0.0)["passed"]
    assert not julia._compare({"a": [1.0]}, {"a": [1.1]}, 1e-3, 1e-3)["passed"]


# ---------------------------------------------------------------- Julia lint
def _fatou():
    exe = shutil.which("fatou") or str(Path(sys.executable).with_name("fatou"))
    if not os.path.exists(exe):
        pytest.skip("fatou is not installed")
    return exe


@pytest.mark.parametrize("command", [["lint", "--color", "never"], ["format", "--check"]])
def test_fatou_is_clean(command):
    out = subprocess.run([_fatou(), *command, "julia"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


# ---------------------------------------------------------------- parity (Julia installed)
requires_julia = pytest.mark.skipif(not julia.julia_ready(),
                                    reason=f"Julia backend not available: {julia.reason()}; run `cosmocorr julia install`")


@pytest.mark.julia
@requires_julia
def test_pair_sums_parity():
    jk = julia.kernels()
    c1 = synthetic_shear_catalog(400, seed=1, weighted=True)
    c2 = synthetic_shear_catalog(300, seed=2, weighted=True)
    for auto, (a, b) in ((True, (c1, c1)), (False, (c1, c2))):
        for log, lo in ((False, 0.0), (True, 0.5)):
            for shear in (True, False):
                ga, gb = (a.g, b.g) if shear else (None, None)
                args = (a.xyz, a.w, ga, b.xyz, b.w, gb, lo, 60.0, 7, log, auto)
                ref, got = _kernels_numpy.pair_sums(*args), jk.pair_sums(*args)
                assert set(got) == set(ref)
                for k in ref:
                    np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-14, err_msg=k)


@pytest.mark.julia
@requires_julia
def test_bin_index_parity(rng):
    r = np.concatenate([[0.0, 0.5, 60.0], rng.uniform(0, 70, 1000)])
    for log, lo in ((False, 0.0), (True, 0.5)):
        np.testing.assert_array_equal(julia.kernels().bin_index(r, lo, 60.0, 7, log),
                                      _kernels_numpy.bin_index(r, lo, 60.0, 7, log))


@pytest.mark.julia
@requires_julia
def test_fcm_iterate_parity(rng):
    from cosmocorr.clustering import kmeans_plus_plus
    from cosmocorr.sky.geometry import unit_vectors
    ra, dec = rng.uniform(149, 151, 300), rng.uniform(1, 3, 300)
    init = kmeans_plus_plus(ra, dec, 12, seed=0)
    args = (unit_vectors(ra, dec), unit_vectors(init[:, 0], init[:, 1]), 2.0, 1e-8, 200, None)
    ref, got = _kernels_numpy.fcm_iterate(*args), julia.kernels().fcm_iterate(*args)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-9, atol=1e-12)
    assert got[2] == ref[2]


@pytest.mark.julia
@requires_julia
@pytest.mark.parametrize("approach", ["none", "c"])
@pytest.mark.parametrize("ad", ["forward", "reverse"])
def test_xi_plus_gradient_parity(approach, ad):
    """Julia (Tsit5 + ForwardDiff, and Zygote through the reverse-mode extension) against the
    NumPy forward sensitivities, at the default alpha (1 / arcmin), where a naive sigmoid would
    give NaN derivatives."""
    from cosmocorr import xi_plus_gradient

    if ad == "reverse" and not julia.reverse_mode_installed():
        pytest.skip("reverse mode not installed (cosmocorr julia install --reverse-mode)")
    kw = dict(n_galaxies=60, approach=approach, n_clusters=20, seed=2)
    ref = xi_plus_gradient(1.1, backend="numpy", **kw)
    assert np.all(np.isfinite(ref.dxi_dG))
    got = xi_plus_gradient(1.1, backend="julia", ad=ad, state=ref.state, **kw)
    np.testing.assert_allclose(got.xi, ref.xi, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got.dxi_dG, ref.dxi_dG, rtol=1e-4, atol=1e-10)


def test_bridge_converts_julia_results_by_field_name(monkeypatch):
    """The bridge's conversions, with a stand-in for the Julia module: PythonCall hands a Julia
    NamedTuple over as an AnyValue with attribute access only (no keys()/values()), and 1-based
    bin indices with 0 for "no bin"."""
    class NamedTupleValue:  # attributes only, like juliacall.AnyValue wrapping a NamedTuple
        def __init__(self, **fields):
            self.__dict__.update(fields)

    calls = {}

    def pair_sums(xyz1, w1, g1, xyz2, w2, g2, lo, hi, nbins, log, auto):
        calls["pair_sums"] = (g1 is None, type(lo), type(nbins), type(log))
        ref = _kernels_numpy.pair_sums(xyz1, w1, g1, xyz2, w2, g2, lo, hi, nbins, log, auto)
        return NamedTupleValue(**{k: list(v) for k, v in ref.items()})

    def fcm_iterate(xyz, cxyz, m, tol, max_iter, weights):
        c, U, n_iter, hist, conv = _kernels_numpy.fcm_iterate(xyz, cxyz, m, tol, max_iter, weights)
        # the Julia kernel returns the memberships c x N
        return NamedTupleValue(centers=c, membership=U.T, n_iter=n_iter, objective=hist, converged=conv)

    fake = SimpleNamespace(
        pair_sums=pair_sums, fcm_iterate=fcm_iterate,
        bin_index=lambda r, lo, hi, nbins, log: list(_kernels_numpy.bin_index(r, lo, hi, nbins, log) + 1))
    monkeypatch.setattr(julia, "load", lambda: SimpleNamespace(CosmoCorr=fake))
    jk = julia.kernels()
    c = synthetic_shear_catalog(80, seed=5, weighted=True)
    for g in (c.g, None):
        got = jk.pair_sums(c.xyz, c.w, g, c.xyz, c.w, g, 0.0, 60.0, 4, False, True)
        ref = _kernels_numpy.pair_sums(c.xyz, c.w, g, c.xyz, c.w, g, 0.0, 60.0, 4, False, True)
        assert set(got) == set(ref) and all(isinstance(v, np.ndarray) for v in got.values())
        for k in ref:
            np.testing.assert_array_equal(got[k], ref[k])
    assert calls["pair_sums"] == (True, float, int, bool)
    r = np.array([[0.0, 5.0], [59.0, 61.0]])
    np.testing.assert_array_equal(jk.bin_index(r, 0.0, 60.0, 6, False), [[-1, 0], [5, -1]])
    from cosmocorr.sky.geometry import unit_vectors
    xyz = unit_vectors(np.linspace(10, 12, 50), np.linspace(0, 1, 50))
    out = jk.fcm_iterate(xyz, xyz[:, :3].copy(), 2.0, 1e-6, 50)
    ref = _kernels_numpy.fcm_iterate(xyz, xyz[:, :3].copy(), 2.0, 1e-6, 50)
    np.testing.assert_array_equal(out[0], ref[0])
    np.testing.assert_array_equal(out[1], ref[1])
    assert out[1].shape == (50, 3) and out[1].flags.c_contiguous
    assert out[2] == ref[2] and isinstance(out[2], int) and isinstance(out[4], bool)
    with pytest.raises(NotImplementedError, match="accelerate"):
        jk.fcm_iterate(xyz, xyz[:, :3], 2.0, 1e-6, 50, relax=1.5)


# ---------------------------------------------------------------- issue 26: identity, threads, install
def test_stamp_tracks_the_julia_installation_and_the_bridge(fake_env, monkeypatch):
    """An in-place change of the Julia executable (same path, same recorded version) or of the
    Python half of the bridge invalidates the stamp."""
    env = julia.current_environment()
    assert env["julia_executable_id"] and env["bridge_sha256"] == julia._sha256(julia.__file__)
    julia.stamp_path().write_text(json.dumps(_stamp(env)))
    julia._reset_caches()
    assert julia.auto_ready(), julia.auto_reason()
    exe = Path(fake_env.meta["executable"])
    exe.write_text("#!/bin/sh\n# upgraded in place\n")
    julia._reset_caches()
    assert not julia.auto_ready() and "julia executable id" in julia.auto_reason()
    # a new runtime library next to it (e.g. a patch upgrade) as well
    julia.stamp_path().write_text(json.dumps(_stamp(julia.current_environment())))
    julia._reset_caches()
    assert julia.auto_ready()
    (exe.parent.parent / "lib").mkdir()
    (exe.parent.parent / "lib" / "libjulia.so.1.11").write_text("x")
    julia._reset_caches()
    assert not julia.auto_ready() and "julia executable id" in julia.auto_reason()
    julia.stamp_path().write_text(json.dumps(_stamp(julia.current_environment())))
    monkeypatch.setattr(julia, "_bridge_sha256", lambda: "e" * 64)
    julia._reset_caches()
    assert not julia.auto_ready() and "bridge sha256" in julia.auto_reason()


@pytest.mark.parametrize("environ, xoptions, expected", [
    ({}, {}, {"PYTHON_JULIACALL_THREADS": "auto", "PYTHON_JULIACALL_HANDLE_SIGNALS": "yes"}),
    ({"JULIA_NUM_THREADS": "1"}, {}, {}),                          # the user's single thread: Ctrl-C kept
    ({"JULIA_NUM_THREADS": "4,1"}, {}, {"PYTHON_JULIACALL_HANDLE_SIGNALS": "yes"}),
    ({"PYTHON_JULIACALL_THREADS": "3"}, {}, {"PYTHON_JULIACALL_HANDLE_SIGNALS": "yes"}),
    ({"PYTHON_JULIACALL_THREADS": "1", "JULIA_NUM_THREADS": "8"}, {}, {}),   # juliacall's own precedence
    ({"JULIA_NUM_THREADS": "4", "PYTHON_JULIACALL_HANDLE_SIGNALS": "no"}, {}, {}),
    ({}, {"juliacall-threads": "2"}, {"PYTHON_JULIACALL_HANDLE_SIGNALS": "yes"}),
    ({}, {"juliacall-threads": "1", "juliacall-handle-signals": "no"}, {}),
])
def test_launch_settings_honour_the_user(environ, xoptions, expected):
    assert julia.launch_settings(environ, xoptions) == expected


def test_julia_only_from_the_main_thread(monkeypatch):
    """Every bridge entry point refuses other Python threads with a clear RuntimeError."""
    import threading

    monkeypatch.setattr(julia, "_module", SimpleNamespace(CosmoCorr=SimpleNamespace()))
    jk = julia.kernels()       # main thread: fine
    c = synthetic_shear_catalog(10, seed=1)
    calls = {
        "load": julia.load,
        "pair_sums": lambda: jk.pair_sums(c.xyz, c.w, None, c.xyz, c.w, None, 0.0, 60.0, 2, False, True),
        "bin_index": lambda: jk.bin_index(np.ones(3), 0.0, 60.0, 2, False),
        "fcm_iterate": lambda: jk.fcm_iterate(c.xyz, c.xyz[:, :2], 2.0, 1e-6, 5),
        "xi_plus_gradient": lambda: jk.xi_plus_gradient(1.0, np.ones((2, 3)), np.ones((2, 3)), [0, 0], [0, 0],
                                                        [0.0, 1.0], 1.0),
    }
    errors = {}

    def run():
        for name, call in calls.items():
            try:
                call()
            except RuntimeError as exc:
                errors[name] = str(exc)

    worker = threading.Thread(target=run, name="worker-1")
    worker.start()
    worker.join()
    assert set(errors) == set(calls)
    assert all("main Python thread" in e and "worker-1" in e for e in errors.values())


def test_install_forces_the_resolve(monkeypatch, capsys):
    """`install` resolves with force=True (juliapkg would skip a resolve when its juliapkg.json
    files are unchanged, keeping a Manifest without a dependency a new Project.toml added)."""
    import juliapkg

    seen = []
    monkeypatch.setattr(juliapkg, "resolve", lambda **kw: seen.append(kw) or True)
    monkeypatch.setattr(julia, "load", lambda: None)
    julia.install()
    assert seen == [{"force": True}]
    julia._reset_caches()


# ---------------------------------------------------------------- issue 26: trust per family
def _stamp_failing(env, *names):
    stamp = _stamp(env, passed=not names)
    for name in names:
        stamp["functions"][name] = {"passed": False, "max_abs_diff": 0.25}
    return stamp


def test_check_families_per_family_and_environment_wide(tmp_path):
    env = {"cosmocorr_version": "0.1.0", "julia_version": "1.11.5", "julia_executable": "/x/julia",
           "manifest_sha256": "a" * 64, "cosmocorr_jl_sha256": "b" * 64}
    path = tmp_path / "stamp.json"
    path.write_text(json.dumps(_stamp_failing(env, "xi_plus_gradient_c_reverse")))
    fams = julia.check_families(path, env)
    assert set(fams) == set(julia.SELFTEST_FAMILIES)
    assert [f for f, (ok, _) in fams.items() if not ok] == ["gravity_reverse"]
    assert "xi_plus_gradient_c_reverse" in fams["gravity_reverse"][1] and "0.25" in fams["gravity_reverse"][1]
    # one failing check of a family is enough; families are independent
    path.write_text(json.dumps(_stamp_failing(env, "pair_sums_cross", "fcm_iterate")))
    fams = julia.check_families(path, env)
    assert sorted(f for f, (ok, _) in fams.items() if not ok) == ["fcm", "pair_sums"]
    # a check missing from the stamp fails its family only
    partial = _stamp(env)
    del partial["functions"]["bin_index"]
    path.write_text(json.dumps(partial))
    fams = julia.check_families(path, env)
    assert [f for f, (ok, _) in fams.items() if not ok] == ["bin_index"] and "does not cover" in fams["bin_index"][1]
    # environment-wide failures fail every family: another environment, a failed check outside
    # the families (Julia reporting another version), an overall result not passed
    path.write_text(json.dumps(_stamp(env)))
    assert not any(ok for ok, _ in julia.check_families(path, {**env, "julia_version": "1.12.0"}).values())
    bad = _stamp(env, passed=False)
    bad["functions"]["julia_version"] = {"passed": False, "error": "Julia reports 1.11.6"}
    path.write_text(json.dumps(bad))
    fams = julia.check_families(path, env)
    assert not any(ok for ok, _ in fams.values()) and all("1.11.6" in why for _, why in fams.values())
    path.write_text(json.dumps(_stamp(env, passed=False)))
    assert not any(ok for ok, _ in julia.check_families(path, env).values())


class _FakeJuliaKernels:
    """Stands in for the Julia namespace: NumPy's functions, each call recorded."""

    def __init__(self):
        self.calls = []

        def record(name, fn):
            def wrapped(*a, **k):
                self.calls.append(name)
                return fn(*a, **k)
            return wrapped

        self.pair_sums = record("pair_sums", _kernels_numpy.pair_sums)
        self.bin_index = record("bin_index", _kernels_numpy.bin_index)
        self.fcm_iterate = record("fcm_iterate", _kernels_numpy.fcm_iterate)


def test_auto_uses_julia_per_trusted_family(fake_env, monkeypatch, capsys):
    """A failing reverse-mode gravity check does not take the pair sums away from Julia: "auto"
    picks Julia for each family that passed and NumPy for the rest, and says so."""
    from cosmocorr.cli import main

    fake = _FakeJuliaKernels()
    monkeypatch.setattr(julia, "kernels", lambda: fake)
    julia.stamp_path().write_text(json.dumps(_stamp_failing(julia.current_environment(), "xi_plus_gradient_none_reverse",
                                                            "fcm_iterate")))
    julia._reset_caches()
    assert julia.trusted_families() == ("pair_sums", "bin_index", "gravity_forward", "field_pair_sums", "fcm_sparse")
    for family, expected in (("pair_sums", "julia"), ("bin_index", "julia"), ("fcm", "numpy"),
                             ("gravity_forward", "julia"), ("gravity_reverse", "numpy"), (None, "numpy")):
        assert backend.resolve_backend("auto", family=family) == expected, family
    with pytest.raises(ValueError, match="family"):
        backend.resolve_backend("auto", family="pairs")
    # the mixed kernel namespace: Julia's pair sums and bin indices, NumPy's fuzzy c-means; the
    # NumPy-only options of the pair sums are absent since the pair sums run on Julia
    kernels = backend.get_kernels("auto")
    assert kernels.pair_sums is fake.pair_sums and kernels.bin_index is fake.bin_index
    assert kernels.fcm_iterate is _kernels_numpy.fcm_iterate
    assert not hasattr(kernels, "pair_sums_fields") and not hasattr(kernels, "PAIR_SUMS_LOGR")
    assert not hasattr(kernels, "field_pair_sums")   # trusted, but this stand-in has none: never NumPy's
    assert backend.get_kernels("numpy") is _kernels_numpy
    cat = synthetic_shear_catalog(60, seed=3)
    res = cosmocorr.shear_shear(cat, min_sep=1, max_sep=60, nbins=3, spacing="log")
    ref = cosmocorr.shear_shear(cat, min_sep=1, max_sep=60, nbins=3, spacing="log", backend="numpy")
    assert "pair_sums" in fake.calls
    np.testing.assert_allclose(res.xip, ref.xip, rtol=1e-12)
    fake.calls.clear()
    cosmocorr.fuzzy_c_means(cat.ra, cat.dec, 3, seed=1, tol=1e-3)
    assert "fcm_iterate" not in fake.calls
    # status and `cosmocorr julia status` say which family runs where
    info = julia.status()
    assert info["auto_resolves_to"] == "mixed"
    assert {f: e["backend"] for f, e in info["auto_families"].items()} == {
        "pair_sums": "julia", "bin_index": "julia", "fcm": "numpy", "gravity_forward": "julia",
        "gravity_reverse": "numpy", "field_pair_sums": "julia", "fcm_sparse": "julia"}
    assert "xi_plus_gradient_none_reverse" in info["auto_families"]["gravity_reverse"]["reason"]
    assert main(["julia", "status"]) == 0
    out = capsys.readouterr().out
    assert "backend='auto' uses: mixed" in out
    assert re.search(r"gravity_reverse\s+numpy\s+the Julia self-test failed", out)
    assert re.search(r"pair_sums\s+julia\s+self-test passed", out)
    assert "juliacall" not in sys.modules


def test_auto_gravity_follows_its_ad_family(fake_env, monkeypatch):
    """xi_plus_gradient with backend="auto" runs on Julia for the AD mode whose family passed."""
    from cosmocorr.differentiable import gradient

    calls = []

    def fake_xi(G, x0, v0, g1, g2, edges, alpha, labels=None, ad="forward", **kw):
        calls.append(ad)
        return np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)

    monkeypatch.setattr(julia, "kernels", lambda: SimpleNamespace(xi_plus_gradient=fake_xi))
    julia.stamp_path().write_text(json.dumps(_stamp_failing(julia.current_environment(), "xi_plus_gradient_c_reverse")))
    julia._reset_caches()
    gradient.xi_plus_gradient(1.0, n_galaxies=6, approach="none", ad="forward", t_max=0.1)
    assert calls == ["forward"]
    res = gradient.xi_plus_gradient(1.0, n_galaxies=6, approach="none", ad="reverse", t_max=0.1)
    assert calls == ["forward"]                 # reverse mode not trusted: NumPy ran
    ref = gradient.xi_plus_gradient(1.0, n_galaxies=6, approach="none", backend="numpy", t_max=0.1)
    np.testing.assert_array_equal(res.dxi_dG, ref.dxi_dG)


def test_auto_is_numpy_off_the_main_thread(fake_env):
    import threading

    julia.stamp_path().write_text(json.dumps(_stamp(julia.current_environment())))
    julia._reset_caches()
    assert backend.resolve_backend("auto", family="pair_sums") == "julia"
    seen = {}

    def run():
        seen["name"] = backend.resolve_backend("auto", family="pair_sums")
        seen["kernels"] = backend.get_kernels("auto")
        seen["reason"] = julia.auto_reason("pair_sums")

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen["name"] == "numpy" and seen["kernels"] is _kernels_numpy and "worker thread" in seen["reason"]


# ---------------------------------------------------------------- issue 26: the reverse-mode extension
def test_reverse_mode_is_a_package_extension():
    """Project.toml declares the extension as Pkg documents it (Julia >= 1.9): the weak
    dependencies under [weakdeps] (and [extras] + the test target, so that Pkg.test loads
    them), [extensions] naming the module of ext/<name>.jl and both packages; the core sources
    never load Zygote or SciMLSensitivity, the extension module does."""
    proj = (ROOT / "julia" / "Project.toml").read_text()
    ext = _toml_table(proj, "extensions")
    assert ext == {} and re.search(r'^CosmoCorrReverseExt = \["SciMLSensitivity", "Zygote"\]$', proj, re.M)
    weak, extras = _toml_table(proj, "weakdeps"), _toml_table(proj, "extras")
    assert all(extras[name] == uuid for name, uuid in weak.items())
    test_target = re.search(r'^test = \[(.*)\]$', proj, re.M).group(1)
    assert all(f'"{name}"' in test_target for name in weak)
    assert not set(weak) & set(_toml_table(proj, "deps"))
    major, minor = (int(x) for x in _toml_table(proj, "compat")["julia"].split(".")[:2])
    assert (major, minor) >= (1, 9)
    source = (ROOT / "julia" / "ext" / "CosmoCorrReverseExt.jl").read_text()
    assert re.search(r"^module CosmoCorrReverseExt$", source, re.M)
    assert "using SciMLSensitivity" in source and "using Zygote" in source
    assert "function CosmoCorr.reverse_gradient(" in source
    for path in (ROOT / "julia" / "src").glob("*.jl"):
        text = path.read_text()
        assert not re.search(r"^\s*(using|import) (Zygote|SciMLSensitivity)", text, re.M), path.name
    assert "function reverse_gradient end" in (ROOT / "julia" / "src" / "gravity.jl").read_text()


def test_install_adds_the_reverse_packages_only_on_request(monkeypatch, capsys):
    import juliapkg

    log = []
    monkeypatch.setattr(juliapkg, "add", lambda name, uuid, **kw: log.append(("add", name, uuid, kw)))
    monkeypatch.setattr(juliapkg, "resolve", lambda **kw: log.append(("resolve", kw)) or True)
    monkeypatch.setattr(julia, "load", lambda: log.append(("load",)))
    monkeypatch.setattr(julia, "load_reverse_mode", lambda: log.append(("load_reverse_mode",)))
    julia.install()
    assert log == [("resolve", {"force": True}), ("load",)]
    log.clear()
    julia.install(reverse_mode=True)
    adds = sorted(entry[1:] for entry in log if entry[0] == "add")
    assert adds == [(name, spec["uuid"], {"version": spec["version"]})
                    for name, spec in sorted(julia.REVERSE_PACKAGES.items())]
    assert log[len(adds):] == [("resolve", {"force": True}), ("load",), ("load_reverse_mode",)]
    assert "reverse-mode" in capsys.readouterr().out
    julia._reset_caches()


def test_reverse_mode_needs_its_install(fake_env, monkeypatch):
    """ad="reverse" without the reverse packages: a clear error naming the install option; with
    them recorded by juliapkg, the bridge loads them (which loads the extension) once."""
    sevals = []
    fake_cc = SimpleNamespace(xi_plus_gradient=lambda *a, **k: SimpleNamespace(xi=[0.0], dxi_dG=[1.0]))
    fake_module = SimpleNamespace(CosmoCorr=fake_cc,
                                  seval=lambda code: sevals.append(code) or "reverse_mode_loaded" in code)
    monkeypatch.setattr(julia, "_module", fake_module)
    monkeypatch.setattr(julia, "_reverse_loaded", False)
    assert not julia.reverse_mode_installed()
    jk = julia.kernels()
    args = (1.0, np.ones((2, 3)), np.ones((2, 3)), [0.0, 0.0], [0.0, 0.0], [0.0, 1.0], 1.0)
    with pytest.raises(julia.JuliaNotAvailableError, match="--reverse-mode"):
        jk.xi_plus_gradient(*args, ad="reverse")
    assert jk.xi_plus_gradient(*args, ad="forward")[1].tolist() == [1.0] and sevals == []
    meta = json.loads((fake_env.prefix / "meta.json").read_text())
    meta["pkgs"] += [{"name": name, "uuid": spec["uuid"]} for name, spec in julia.REVERSE_PACKAGES.items()]
    (fake_env.prefix / "meta.json").write_text(json.dumps(meta))
    assert julia.reverse_mode_installed() and julia.status()["reverse_mode_installed"]
    jk.xi_plus_gradient(*args, ad="reverse")
    jk.xi_plus_gradient(*args, ad="reverse")
    assert sevals == ["import Zygote, SciMLSensitivity", "CosmoCorr.reverse_mode_loaded()"]


def test_selftest_without_reverse_mode_trusts_the_core(fake_env, monkeypatch):
    """A core-only install: the reverse-mode checks are skipped (not failed), the stamp passes,
    "auto" runs every other family on Julia and reverse-mode gravity on NumPy, and says why."""
    ns = SimpleNamespace(pair_sums=_kernels_numpy.pair_sums, bin_index=_kernels_numpy.bin_index,
                         fcm_iterate=_kernels_numpy.fcm_iterate)
    monkeypatch.setattr(julia, "kernels", lambda: ns)
    monkeypatch.setattr(julia, "load", lambda: SimpleNamespace(
        seval=lambda code: {"string(VERSION)": "1.11.5", "Threads.nthreads()": 2}[code]))

    def grav(name):
        def run(_k):
            if name.endswith("reverse"):
                raise julia.JuliaNotAvailableError(julia.REVERSE_HINT)
            return {"xi": np.ones(3)}, {"xi": np.ones(3)}, 1e-6, 0.0
        return name, run

    ns.field_pair_sums = getattr(_kernels_numpy, "field_pair_sums", None)
    lines = []
    stamp = julia.selftest([grav(n) for n in julia.SELFTEST_FUNCTIONS if n.startswith(("xi_plus", "sparse_fcm"))],
                           echo=lines.append)
    assert stamp["passed"]
    skipped = [line.split()[1].rstrip(":") for line in lines if line.strip().startswith("skip")]
    field = list(julia.SELFTEST_FAMILIES["field_pair_sums"]) if ns.field_pair_sums is None else []
    assert sorted(skipped) == sorted(["xi_plus_gradient_none_reverse", "xi_plus_gradient_c_reverse"] + field)
    assert julia.trusted_families() == ("pair_sums", "bin_index", "fcm", "gravity_forward") + \
        (("field_pair_sums",) if ns.field_pair_sums is not None else ()) + ("fcm_sparse",)
    why = julia.auto_reason("gravity_reverse")
    assert "was not run" in why and "--reverse-mode" in why


# ---------------------------------------------------------------- issue 26: sparse fuzzy c-means
def test_sparse_fcm_with_julia_backend_says_it_runs_numpy(monkeypatch, caplog):
    """neighbours= has no Julia kernel: backend="julia" warns (warnings and the cosmocorr
    logger) and gives the NumPy result; "numpy" and "auto" stay silent."""
    import logging
    import warnings

    rng = np.random.default_rng(7)
    ra, dec = rng.uniform(10, 12, 200), rng.uniform(-1, 1, 200)
    ref = cosmocorr.fuzzy_c_means(ra, dec, 8, seed=1, neighbours=4, tol=1e-4, backend="numpy")
    with caplog.at_level(logging.WARNING, logger="cosmocorr"):
        with pytest.warns(cosmocorr.CosmocorrWarning, match=r"sparse fuzzy c-means \(neighbours=4\).*NumPy"):
            got = cosmocorr.fuzzy_c_means(ra, dec, 8, seed=1, neighbours=4, tol=1e-4, backend="julia")
    assert any("backend='julia'" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(got.centers, ref.centers)
    np.testing.assert_array_equal(got.membership.toarray(), ref.membership.toarray())
    monkeypatch.setenv("COSMOCORR_BACKEND", "julia")       # the configured default counts too
    with pytest.warns(cosmocorr.CosmocorrWarning, match="neighbours=4"):
        cosmocorr.fuzzy_c_means(ra, dec, 8, seed=1, neighbours=4, tol=1e-4)
    monkeypatch.delenv("COSMOCORR_BACKEND")
    with warnings.catch_warnings():
        warnings.simplefilter("error", cosmocorr.CosmocorrWarning)
        cosmocorr.fuzzy_c_means(ra, dec, 8, seed=1, neighbours=4, tol=1e-4, backend="auto")


def test_bridge_field_pair_sums_conversions(monkeypatch):
    """The bridge's NK/KK/NG/KG wrapper: complex fields and plain Python scalars to Julia, the
    kind as a string, logr passed as a keyword; results read by name (``wlogr`` only with logr)."""
    seen = {}

    def field_pair_sums(xyz1, w1, f1, xyz2, w2, f2, kind, lo, hi, nbins, log, auto, logr=False):
        seen.update(dtype=(f1.dtype, f2.dtype), kind=kind, types=(type(lo), type(nbins), type(log), type(auto)),
                    logr=logr)
        names = ("npairs", "weight", "wr") + (("wlogr",) if logr else ()) + ("xi", "xi_im")
        return SimpleNamespace(**{name: [float(q)] * nbins for q, name in enumerate(names)})

    monkeypatch.setattr(julia, "_module", SimpleNamespace(CosmoCorr=SimpleNamespace(field_pair_sums=field_pair_sums)))
    jk = julia.kernels()
    c = synthetic_shear_catalog(20, seed=2)
    out = jk.field_pair_sums(c.xyz, c.w, np.ones(20), c.xyz, c.w, c.g, "spin2", 1, 60, np.int64(3), np.bool_(True),
                             False, logr=True)
    assert list(out) == ["npairs", "weight", "wr", "wlogr", "xi", "xi_im"]
    assert all(isinstance(v, np.ndarray) and v.shape == (3,) for v in out.values())
    assert seen == {"dtype": (np.dtype(complex), np.dtype(complex)), "kind": "spin2",
                    "types": (float, int, bool, bool), "logr": True}
    assert list(jk.field_pair_sums(c.xyz, c.w, c.g, c.xyz, c.w, c.g, "scalar", 1, 60, 3, False, True)) == \
        ["npairs", "weight", "wr", "xi", "xi_im"]
    with pytest.raises(ValueError, match="kind"):
        jk.field_pair_sums(c.xyz, c.w, c.g, c.xyz, c.w, c.g, "spin1", 1, 60, 3, False, True)


def _sparse_problem(n=300, c=10, seed=7):
    from cosmocorr.clustering.sparse_fcm import kmeans_plus_plus_fast
    from cosmocorr.sky.geometry import unit_vectors

    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(10, 12, n), rng.uniform(-1, 1, n)
    return ra, dec, unit_vectors(ra, dec), unit_vectors(*kmeans_plus_plus_fast(ra, dec, c, seed=1).T)


def _julia_layout(result):
    """A NumPy sparse_fcm_iterate result as the Julia kernel returns it: a NamedTuple (attribute
    access only) with neighbours (1-based) and memberships k x N, each column in reversed index
    order (Julia's sets are ordered by distance, not by index)."""
    cxyz, U, it, hist, conv, req = result
    n, k = U.shape[0], U.indptr[1]
    idx = U.indices.reshape(n, k)[:, ::-1].T + 1
    return SimpleNamespace(centers=cxyz, neighbours=np.asfortranarray(idx), membership=U.data.reshape(n, k)[:, ::-1].T,
                           n_iter=np.int64(it), objective=list(hist), converged=np.bool_(conv), requeried=np.int64(req))


def test_bridge_sparse_fcm_conversions(monkeypatch):
    """The bridge's sparse fuzzy c-means: (3, N) and (3, c) float arrays and plain scalars to
    Julia, ``block`` as a keyword; back: 1-based k x N neighbours to a csr_matrix (N, c) with
    sorted 0-based indices equal to NumPy's, Python int/bool scalars; relax != 1 refused."""
    from cosmocorr.clustering.sparse_fcm import sparse_fcm_iterate

    seen = {}

    def fake(xyz, cxyz, m, tol, max_iter, k, w, block=None):
        seen.update(shapes=(xyz.shape, cxyz.shape), types=tuple(type(v) for v in (m, tol, max_iter, k)), block=block,
                    w=None if w is None else w.dtype)
        return _julia_layout(sparse_fcm_iterate(xyz, cxyz, m, tol, max_iter, k, w, block=block))

    monkeypatch.setattr(julia, "_module", SimpleNamespace(CosmoCorr=SimpleNamespace(sparse_fcm_iterate=fake)))
    jk = julia.kernels()
    _, _, xyz, init = _sparse_problem()
    w = np.random.default_rng(3).uniform(0.5, 1.5, xyz.shape[1]).astype(np.float32)
    args = (xyz, init, 2.0, 1e-5, 100, np.int64(4), w)
    ref = sparse_fcm_iterate(*args[:-1], w.astype(float), block=128)
    bar = SimpleNamespace(n=0, update=lambda n: setattr(bar, "n", bar.n + n))
    got = jk.sparse_fcm_iterate(*args, block=np.int64(128), progress=bar)
    assert seen == {"shapes": ((3, 300), (3, 10)), "types": (float, float, int, int), "block": 128,
                    "w": np.dtype(float)}
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[1].format == "csr" and got[1].has_sorted_indices and got[1].shape == (300, 10)
    np.testing.assert_array_equal(got[1].indices, ref[1].indices)
    np.testing.assert_array_equal(got[1].indptr, ref[1].indptr)
    np.testing.assert_array_equal(got[1].data, ref[1].data)
    assert got[2] == ref[2] == bar.n and type(got[2]) is int and type(got[4]) is bool and type(got[5]) is int
    np.testing.assert_array_equal(got[3], ref[3])
    assert (got[4], got[5]) == (ref[4], ref[5])
    with pytest.raises(NotImplementedError, match="accelerate"):
        jk.sparse_fcm_iterate(*args, relax=1.5)


def test_sparse_fcm_runs_on_julia_only_once_trusted(fake_env, monkeypatch):
    """fuzzy_c_means(neighbours=k): with the fcm_sparse family trusted, "auto" and "julia" call
    the Julia kernel, silently; with its check failed, "auto" runs NumPy silently and "julia"
    runs NumPy with a warning; accelerate=True always runs NumPy."""
    import warnings

    from cosmocorr.clustering import sparse_fcm

    calls = []

    def kernel(*a, **k):
        calls.append(k.get("relax"))
        return sparse_fcm.sparse_fcm_iterate(*a, **k)

    monkeypatch.setattr(julia, "kernels", lambda: SimpleNamespace(sparse_fcm_iterate=kernel))
    ra, dec, _, _ = _sparse_problem()
    run = dict(seed=1, neighbours=4, tol=1e-4)
    ref = cosmocorr.fuzzy_c_means(ra, dec, 10, backend="numpy", **run)
    julia.stamp_path().write_text(json.dumps(_stamp(julia.current_environment())))
    julia._reset_caches()
    with warnings.catch_warnings():
        warnings.simplefilter("error", cosmocorr.CosmocorrWarning)
        for name in ("auto", "julia"):
            got = cosmocorr.fuzzy_c_means(ra, dec, 10, backend=name, **run)
            np.testing.assert_array_equal(got.membership.toarray(), ref.membership.toarray())
    assert calls == [1.0, 1.0]
    with pytest.warns(cosmocorr.CosmocorrWarning, match="accelerate=True"):
        cosmocorr.fuzzy_c_means(ra, dec, 10, backend="julia", accelerate=True, **run)
    assert len(calls) == 2
    julia.stamp_path().write_text(json.dumps(_stamp_failing(julia.current_environment(), "sparse_fcm_iterate")))
    julia._reset_caches()
    assert "fcm_sparse" not in julia.trusted_families() and "pair_sums" in julia.trusted_families()
    with warnings.catch_warnings():
        warnings.simplefilter("error", cosmocorr.CosmocorrWarning)
        cosmocorr.fuzzy_c_means(ra, dec, 10, backend="auto", **run)
    with pytest.warns(cosmocorr.CosmocorrWarning, match=r"neighbours=4.*NumPy"):
        cosmocorr.fuzzy_c_means(ra, dec, 10, backend="julia", **run)
    assert len(calls) == 2


def test_sparse_fcm_selftest_case_and_its_tolerance(monkeypatch):
    """The fcm_sparse self-test case (from the clustering layer) passes for a kernel equal to the
    NumPy reference and fails for one off by 1e-8 in the memberships or by one iteration."""
    from cosmocorr.clustering import sparse_fcm

    (name, case), = sparse_fcm.julia_selftest_cases()
    assert name in julia.SELFTEST_FAMILIES["fcm_sparse"]
    cache = {}
    real = sparse_fcm.sparse_fcm_iterate

    def cached(*a, **k):
        if "result" not in cache:
            cache["result"] = real(*a, **k)
        return cache["result"]

    monkeypatch.setattr(sparse_fcm, "sparse_fcm_iterate", cached)
    assert julia._compare(*case(SimpleNamespace(sparse_fcm_iterate=cached)))["passed"]
    ref = cache["result"]
    assert ref[4] and ref[5] > 0     # converged, and the neighbour maintenance re-queried sets
    U = ref[1].copy()
    U.data[0] += 1e-8
    off = SimpleNamespace(sparse_fcm_iterate=lambda *a, **k: (ref[0], U) + ref[2:])
    assert not julia._compare(*case(off))["passed"]
    late = SimpleNamespace(sparse_fcm_iterate=lambda *a, **k: ref[:2] + (ref[2] + 1,) + ref[3:])
    assert not julia._compare(*case(late))["passed"]


@pytest.mark.julia
@requires_julia
def test_sparse_fcm_iterate_parity():
    from cosmocorr.clustering.sparse_fcm import julia_selftest_cases

    (_, case), = julia_selftest_cases()
    result = julia._compare(*case(julia.kernels()))
    assert result["passed"], result


def test_cli_selftest_covers_every_check(monkeypatch, capsys):
    """`cosmocorr julia selftest` hands the self-test the checks the bridge cannot define itself
    (gravity, sparse fuzzy c-means): with the bridge's own, every name of SELFTEST_FUNCTIONS."""
    from cosmocorr.cli import main

    seen = {}

    def selftest(extra_cases=(), path=None, echo=print):
        seen["names"] = [name for name, _ in extra_cases]
        return {"passed": True}

    monkeypatch.setattr(julia, "selftest", selftest)
    monkeypatch.setattr(julia, "status_lines", lambda info=None: [])
    monkeypatch.setattr(julia, "stamp_path", lambda: Path("stamp.json"))
    assert main(["julia", "selftest"]) == 0
    own = [name for name, _ in julia._kernel_cases()]
    assert sorted(own + seen["names"]) == sorted(julia.SELFTEST_FUNCTIONS)
    assert "sparse_fcm_iterate" in seen["names"]
