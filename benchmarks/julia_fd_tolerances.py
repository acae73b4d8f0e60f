"""Why julia/test/runtests.jl uses the tolerances it uses for d xi+/d G (no Julia needed).

The Julia test "d xi+/d G: ForwardDiff vs finite differences" compares the ForwardDiff
derivative with finite differences of xi+(G) on 10 random bodies (t_max = 0.5, observer at 3,
alpha = 1/arcmin, three bins holding an eighth of the pairs each, G = 1.1). This script runs the
same configuration with the NumPy forward model (DOP853 at rtol 1e-10, atol 1e-12, the Julia
test's tolerances; derivative from the forward sensitivity equations) over many seeds, and
prints, for approach "none" and for 5 clusters of 2 bodies (approach "c"):

- how often the old check (central difference, h = 1e-4, rtol 1e-4, atol 1e-9) fails;
- how often the new check fails: Richardson extrapolation R = (4 D(h/2) - D(h)) / 3 against
  the derivative with the tolerance 2 |D(h) - D(h/2)| + 1e-6 |R| + 1e-9 (the O(h^2) error
  estimate of the cruder difference, which also carries the solver noise of both);
- the largest relative change of xi+ between solves at rtol 1e-10 and 1e-11 (two different
  adaptive step sequences, as a Dual and a Float64 solve are), which sets the tolerance of the
  "Dual value == Float64 value" checks.

    python benchmarks/julia_fd_tolerances.py [--seeds 100] [--h 1e-4]
"""
import argparse
import time

import numpy as np

from cosmocorr.differentiable import dual as dl
from cosmocorr.differentiable import soft_xi_plus
from cosmocorr.differentiable.gravity import integrate
from cosmocorr.sky.bins import Bins
from cosmocorr.sky.geometry import ARCMIN

OBSERVER = 3.0
T_MAX = 0.5


def bodies(n, rng):
    """Near-circular orbits as `bodies` in runtests.jl (the same recipe, NumPy's generator)."""
    x0, v0 = np.zeros((n, 3)), np.zeros((n, 3))
    for i in range(n):
        r = 0.5 + rng.random()
        u = rng.standard_normal(3)
        u /= np.linalg.norm(u)
        t = rng.standard_normal(3)
        t -= (t @ u) * u
        t /= np.linalg.norm(t)
        x0[i], v0[i] = r * u, np.sqrt(1 / r) * t
    return x0, v0, 0.2 * rng.standard_normal(n), 0.2 * rng.standard_normal(n)


def observed(x, dx=None):
    p = x + np.array([OBSERVER, 0.0, 0.0])
    norm = np.linalg.norm(p, axis=1, keepdims=True)
    u = p / norm
    if dx is None:
        return u.T
    du = (dx - u * np.sum(u * dx, axis=1, keepdims=True)) / norm
    return dl.Dual(u.T, du.T)


def objects(xyz, labels):
    """The soft estimator's objects: every body, or approach (c) cluster means (fixed labels)."""
    if labels is None:
        return xyz, None
    A = np.eye(labels.max() + 1)[labels]
    m = xyz @ A
    return m / dl.sqrt((m * m).sum(axis=0)), A


def xi(G, case, rtol=1e-10, derivative=False):
    x0, v0, g1, g2, labels, bins = case
    x, dx = integrate(x0, v0, G, t_max=T_MAX, rtol=rtol, atol=1e-12, with_sensitivity=derivative)
    pos, A = objects(observed(x, dx), labels)
    c1, c2, w = (g1, g2, np.ones(len(g1))) if A is None else (g1 @ A / A.sum(0), g2 @ A / A.sum(0), A.sum(0))
    out = soft_xi_plus(pos, c1, c2, w, bins, 1.0)
    return (dl.value(out), dl.tangent(out)) if derivative else dl.value(out)


def make_case(seed, clustered):
    rng = np.random.default_rng(seed)
    x0, v0, g1, g2 = bodies(10, rng)
    labels = np.repeat(np.arange(5), 2) if clustered else None
    pos, _ = objects(observed(integrate(x0, v0, 1.0, t_max=T_MAX, with_sensitivity=False)[0]), labels)
    ii, jj = np.triu_indices(pos.shape[1], 1)
    r = np.sort(np.arccos(np.clip(np.sum(pos[:, ii] * pos[:, jj], axis=0), -1, 1)) / ARCMIN)
    q = max(1, len(r) // 8)
    bins = Bins(0.0, r[3 * q], 3)
    bins.edges = np.array([0.0, r[q - 1], r[2 * q - 1], r[3 * q - 1]])   # runtests' 1-based r[q], r[2q], r[3q]
    return x0, v0, g1, g2, labels, bins


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--h", type=float, default=1e-4)
    args = ap.parse_args()
    h, G = args.h, 1.1
    t0, c0 = time.perf_counter(), time.process_time()
    for clustered in (False, True):
        old_fail = new_fail = 0
        worst_value = worst_cd = worst_rich = 0.0
        for seed in range(args.seeds):
            case = make_case(seed, clustered)
            val, der = xi(G, case, derivative=True)
            d1 = (xi(G + h, case) - xi(G - h, case)) / (2 * h)
            d2 = (xi(G + h / 2, case) - xi(G - h / 2, case)) / h
            rich = (4 * d2 - d1) / 3
            old_ok = np.all(np.abs(der - d1) <= 1e-9 + 1e-4 * np.abs(d1))
            new_ok = np.all(np.abs(der - rich) <= 2 * np.abs(d1 - d2) + 1e-6 * np.abs(rich) + 1e-9)
            old_fail += not old_ok
            new_fail += not new_ok
            worst_cd = max(worst_cd, float(np.max(np.abs(der - d1) / np.abs(der))))
            worst_rich = max(worst_rich, float(np.max(np.abs(der - rich) / np.abs(der))))
            worst_value = max(worst_value, float(np.max(np.abs(xi(G, case, rtol=1e-11) - val) / np.abs(val))))
        name = "c (5 clusters)" if clustered else "none"
        print(f"approach {name}: {args.seeds} seeds (0..{args.seeds - 1}), h = {h:g}")
        print(f"  old check (central difference, rtol 1e-4) fails: {old_fail}/{args.seeds}; "
              f"worst relative error {worst_cd:.2e}")
        print(f"  new check (Richardson, tolerance 2|D(h)-D(h/2)| + 1e-6|R|) fails: {new_fail}/{args.seeds}; "
              f"worst relative error {worst_rich:.2e}")
        print(f"  largest relative change of xi+ between rtol 1e-10 and 1e-11 solves: {worst_value:.2e}")
    print(f"wall {time.perf_counter() - t0:.1f} s, CPU {time.process_time() - c0:.1f} s (shared machine)")


if __name__ == "__main__":
    main()
