"""The gravity forward model in JAX, differentiated through cosmocorr (issue 25; paper sec. 3.2, 6).

The paper's main implementation is JAX: a forward model (here N bodies around a central mass,
integrated with a fixed-step RK4 in ``jax.lax.scan``) produces a catalog; ``cosmocorr.jax``'s soft
xi+ (NumPy kernels behind ``jax.pure_callback`` with a custom JVP rule) turns it into a correlation
function; ``jax.grad`` differentiates a loss on xi+ with respect to (G, M) through both.

1. d xi+/dG by ``jax.jacfwd`` through the JAX model and cosmocorr, against the NumPy path
   (``cc.xi_plus_gradient(approach="none")``: scipy DOP853 with forward sensitivity equations and
   cosmocorr's per-object JVP): the largest relative difference is printed.
2. A gradient-descent fit of (G, M) to the xi+ of (G, M) = (1.15, 0.9) from (1, 1): steps along
   -grad L in log-parameters with a backtracking (Armijo) line search, L = |xi+ - target|^2 /
   |target|^2, the gradient from ``jax.value_and_grad``; then, from the same start, Gauss-Newton
   steps with the Jacobian from ``jax.jacfwd`` (the loss valley is long and curved: plain gradient
   descent can crawl along it).
3. Why both stop short of the truth: the Jacobian of xi+ in (log G, log M) at the truth has rank 2
   (its singular values and directions are printed: G and M are separately identifiable, the
   combination along the small singular vector about 30 times more weakly than the other), but the
   loss is not convex: it has a spurious local minimum (loss 7e-6) near the start, separated from
   the truth (loss 0) by a barrier (the loss along the segment joining them is printed). Local
   optimisers from (1, 1) stop there. The fix is a global step along the weak direction: the
   profile of the loss along it (the strong direction fitted at each point, :func:`profile_fit`;
   printed: several local minima), then Gauss-Newton from the profile's lowest point, which
   recovers the truth.

The initial conditions are cosmocorr's (seeded, ``cc.gravity.initial_conditions``), with the
speeds scaled by sqrt(M) (near-circular orbits of the central mass M) so that G and M are
separately identifiable. Integration over a tenth of a circular period (``t_max``), as in the
inverse-problem test.

    python examples/jax_gravity_fit.py [--n 150] [--steps 2000] [--fit-steps 25] [--seed 3] [--profile 15]
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import cosmocorr as cc  # noqa: E402
import cosmocorr.jax as ccj  # noqa: E402

SOFTENING, DISTANCE = 0.01, 10.0


def make_model(n, seed, n_steps, t_max):
    """(G, M) -> (ra, dec) in degrees of the galaxies seen from distance 10 R, by RK4 in JAX."""
    x0, v0 = cc.gravity.initial_conditions(n, seed)       # speeds for M = 1
    x0, v0 = jnp.asarray(x0), jnp.asarray(v0)
    dt = t_max / n_steps

    def positions(G, M):
        def acc(x):
            r2 = jnp.sum(x * x, axis=1, keepdims=True) + SOFTENING**2
            return -G * M * x * r2**-1.5

        def step(state, _):
            x, v = state
            k1x, k1v = v, acc(x)
            k2x, k2v = v + 0.5 * dt * k1v, acc(x + 0.5 * dt * k1x)
            k3x, k3v = v + 0.5 * dt * k2v, acc(x + 0.5 * dt * k2x)
            k4x, k4v = v + dt * k3v, acc(x + dt * k3x)
            return (x + dt / 6 * (k1x + 2 * k2x + 2 * k3x + k4x), v + dt / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)), None

        (x, _), _ = jax.lax.scan(step, (x0, jnp.sqrt(M) * v0), None, length=n_steps)
        p = x + jnp.array([DISTANCE, 0.0, 0.0])
        ra = jnp.degrees(jnp.arctan2(p[:, 1], p[:, 0])) % 360.0
        dec = jnp.degrees(jnp.arctan2(p[:, 2], jnp.hypot(p[:, 0], p[:, 1])))
        return ra, dec

    return positions


def make_xi(n, seed, n_steps, t_max, bins, alpha):
    positions = make_model(n, seed, n_steps, t_max)
    g = cc.gravity.ellipticities(n, seed)
    g1, g2, w = jnp.asarray(g.real), jnp.asarray(g.imag), jnp.ones(n)

    def xi(G, M):
        ra, dec = positions(G, M)
        return ccj.soft_shear_shear(ra, dec, g1, g2, w, bins.edges, alpha)[0]

    return xi


def fit(xi, target, start, max_steps):
    """Gradient descent in log(G), log(M) with an Armijo backtracking line search."""
    norm = float(jnp.sum(target**2))

    def loss(logp):
        r = xi(jnp.exp(logp[0]), jnp.exp(logp[1])) - target
        return jnp.sum(r * r) / norm

    vg = jax.value_and_grad(loss)
    logp = jnp.log(jnp.asarray(start, dtype=float))
    L, gr = vg(logp)
    history = [(float(jnp.exp(logp[0])), float(jnp.exp(logp[1])), float(L))]
    step = 1.0 / max(float(jnp.linalg.norm(gr)), 1e-300) * 0.1
    for _ in range(max_steps):
        while True:
            trial = logp - step * gr
            Lt = float(loss(trial))
            if Lt <= L - 1e-4 * step * float(gr @ gr) or step < 1e-12:
                break
            step *= 0.5
        logp = trial
        L, gr = vg(logp)
        history.append((float(jnp.exp(logp[0])), float(jnp.exp(logp[1])), float(L)))
        step *= 2.0
        if L < 1e-12:
            break
    return history


def fit_gauss_newton(xi, target, start, max_steps):
    """Levenberg-damped Gauss-Newton in log(G), log(M), the Jacobian from ``jax.jacfwd``."""
    norm = float(jnp.sum(target**2))
    f = lambda lp: xi(jnp.exp(lp[0]), jnp.exp(lp[1]))   # noqa: E731
    jac = jax.jacfwd(f)
    logp = jnp.log(jnp.asarray(start, dtype=float))
    r = f(logp) - target
    L, lam = float(r @ r) / norm, 1e-3
    history = [(float(jnp.exp(logp[0])), float(jnp.exp(logp[1])), L)]
    for _ in range(max_steps):
        J = jac(logp)
        A, b = J.T @ J, J.T @ r
        while True:
            trial = logp - jnp.linalg.solve(A + lam * jnp.diag(jnp.diag(A)), b)
            rt = f(trial) - target
            Lt = float(rt @ rt) / norm
            if Lt < L or lam > 1e8:
                break
            lam *= 10.0
        logp, r, L, lam = trial, rt, Lt, max(lam / 10.0, 1e-6)
        history.append((float(jnp.exp(logp[0])), float(jnp.exp(logp[1])), L))
        if L < 1e-20:
            break
    return history


def profile_fit(xi, target, start, v_values, inner_steps=4, steps=10):
    """Profile the loss along the weakly constrained direction, then polish.

    With J0 = d xi+/d(log G, log M) at ``start`` and its right singular vectors u (large singular
    value) and v (small), for each offset ``v_values`` along v the offset along u is fitted by 1-D
    Gauss-Newton (well conditioned, warm-started from the previous offset); the profile (v, G, M,
    loss) is returned with the 2-D Gauss-Newton history from its lowest point.
    """
    norm = float(jnp.sum(target**2))
    f = lambda lp: xi(jnp.exp(lp[0]), jnp.exp(lp[1]))   # noqa: E731
    jac = jax.jacfwd(f)
    lp0 = np.log(np.asarray(start, dtype=float))
    _, _, vt = np.linalg.svd(np.asarray(jac(jnp.asarray(lp0))))
    u_dir, v_dir = vt[0], vt[1]
    u, profile = 0.0, []
    for v in v_values:
        for _ in range(inner_steps):
            lp = jnp.asarray(lp0 + u * u_dir + v * v_dir)
            r, j = np.asarray(f(lp) - target), np.asarray(jac(lp)) @ u_dir
            u -= float(j @ r) / float(j @ j)
        lp = lp0 + u * u_dir + v * v_dir
        r = np.asarray(f(jnp.asarray(lp)) - target)
        profile.append((float(v), float(np.exp(lp[0])), float(np.exp(lp[1])), float(r @ r) / norm))
    best = min(profile, key=lambda p: p[3])
    return profile, fit_gauss_newton(xi, target, best[1:3], steps)


def diagnose(xi, truth, stuck, n_profile=11):
    """Singular values/vectors of d xi+/d(log G, log M) at the truth, and the loss along the
    segment from the truth to ``stuck`` (G, M)."""
    target = xi(*truth)
    J = np.asarray(jax.jacfwd(lambda lp: xi(jnp.exp(lp[0]), jnp.exp(lp[1])))(jnp.log(jnp.asarray(truth))))
    _, sv, vt = np.linalg.svd(J)
    f = jax.jit(lambda G, M: jnp.sum((xi(G, M) - target) ** 2) / jnp.sum(target**2))
    seg = []
    for s in np.linspace(0.0, 1.0, n_profile):
        G, M = truth[0] + s * (stuck[0] - truth[0]), truth[1] + s * (stuck[1] - truth[1])
        seg.append((s, G, M, float(f(G, M))))
    return sv, vt, seg


def run(n=150, n_steps=2000, fit_steps=25, seed=3, truth=(1.15, 0.9), alpha=0.05, gauss_newton=False,
        profile=None):
    bins = cc.Bins(0.0, 160.0, 3)
    t_max = 0.1 * cc.gravity.circular_period()
    xi = make_xi(n, seed, n_steps, t_max, bins, alpha)
    c0 = time.process_time()
    d_jax = np.asarray(jax.jacfwd(xi, argnums=0)(1.0, 1.0))
    d_jax_rev = np.asarray(jax.jacrev(xi, argnums=0)(1.0, 1.0))
    cpu = time.process_time() - c0
    ref = cc.xi_plus_gradient(1.0, n, bins=bins, approach="none", seed=seed, alpha=alpha, t_max=t_max)
    target = xi(*truth)
    history = fit(xi, target, (1.0, 1.0), fit_steps)
    history_gn = fit_gauss_newton(xi, target, (1.0, 1.0), max(3, fit_steps // 3)) if gauss_newton else None
    out = {}
    if profile:
        v_values = np.linspace(-0.32, 0.24, profile)
        out["profile"], out["history_global"] = profile_fit(xi, target, (1.0, 1.0), v_values, steps=max(3, fit_steps // 2))
        stuck = (history_gn or history)[-1][:2]
        out["sv"], out["vt"], out["segment"] = diagnose(xi, truth, stuck)
    return {**out, "history_gn": history_gn, "dxi_dG_jax": d_jax, "dxi_dG_jax_rev": d_jax_rev, "dxi_dG_numpy": ref.dxi_dG, "xi_jax": np.asarray(xi(1.0, 1.0)),
            "xi_numpy": ref.xi, "history": history, "truth": truth, "cpu_derivative": cpu}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--steps", type=int, default=2000, help="RK4 steps over t_max")
    ap.add_argument("--fit-steps", type=int, default=25)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--profile", type=int, default=15,
                    help="points of the loss profile along the weak direction, -0.32 to 0.24 (0: none)")
    args = ap.parse_args()
    out = run(args.n, args.steps, args.fit_steps, args.seed, gauss_newton=True, profile=args.profile)
    rel = lambda a, b: float(np.max(np.abs(a - b)) / np.max(np.abs(b)))  # noqa: E731
    print(f"N = {args.n}, seed {args.seed}, RK4 {args.steps} steps over a tenth of a period, bins 0-160' x 3, alpha 0.05")
    print(f"xi+ (JAX RK4)            {out['xi_jax']}")
    print(f"xi+ (NumPy DOP853)       {out['xi_numpy']}   max rel. diff {rel(out['xi_jax'], out['xi_numpy']):.1e}")
    print(f"d xi+/dG jax.jacfwd      {out['dxi_dG_jax']}")
    print(f"d xi+/dG jax.jacrev      {out['dxi_dG_jax_rev']}")
    print(f"d xi+/dG NumPy path      {out['dxi_dG_numpy']}   max rel. diff {rel(out['dxi_dG_jax'], out['dxi_dG_numpy']):.1e}")
    print(f"(CPU for jacfwd + jacrev: {out['cpu_derivative']:.1f} s)")
    print(f"gradient-descent fit of (G, M), truth {out['truth']}:")
    print("| step | G | M | loss |")
    print("|---|---|---|---|")
    for k, (G, M, L) in enumerate(out["history"]):
        print(f"| {k} | {G:.6f} | {M:.6f} | {L:.3e} |")
    print("Gauss-Newton (Levenberg-damped, J from jax.jacfwd) from the same start:")
    print("| step | G | M | loss |")
    print("|---|---|---|---|")
    for k, (G, M, L) in enumerate(out["history_gn"]):
        print(f"| {k} | {G:.6f} | {M:.6f} | {L:.3e} |")
    if not args.profile:
        return
    sv, vt = out["sv"], out["vt"]
    print(f"d xi+/d(log G, log M) at the truth: singular values {sv[0]:.3e}, {sv[1]:.3e} (ratio {sv[0] / sv[1]:.0f}); "
          f"well-constrained direction {vt[0, 0]:+.3f} log G {vt[0, 1]:+.3f} log M, "
          f"weak direction {vt[1, 0]:+.3f} log G {vt[1, 1]:+.3f} log M")
    print("loss along the segment from the truth (s = 0) to the Gauss-Newton end point (s = 1):")
    print("| s | G | M | loss |")
    print("|---|---|---|---|")
    for s, G, M, L in out["segment"]:
        print(f"| {s:.1f} | {G:.4f} | {M:.4f} | {L:.3e} |")
    print("loss profile along the weak direction through the start (1, 1), the strong direction fitted "
          "at each point:")
    print("| v | G | M | loss |")
    print("|---|---|---|---|")
    for v, G, M, L in out["profile"]:
        print(f"| {v:+.2f} | {G:.4f} | {M:.4f} | {L:.3e} |")
    print("Gauss-Newton from the profile's lowest point:")
    print("| step | G | M | loss |")
    print("|---|---|---|---|")
    for k, (G, M, L) in enumerate(out["history_global"]):
        print(f"| {k} | {G:.6f} | {M:.6f} | {L:.3e} |")


if __name__ == "__main__":
    main()
