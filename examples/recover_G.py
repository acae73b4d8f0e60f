"""Inverse problem: recover G from a target xi+ made at G = 1.3, by gradient-based optimisation.

Minimises the squared distance between xi+(G) and the target with Gauss-Newton steps that use
the forward-mode derivative d xi+/d G (approach c, clustering fitted once at the start), starting
from G = 1.

    python examples/recover_G.py [--n-galaxies 200] [--progress]
"""
import argparse

import numpy as np

import cosmocorr as cc
from cosmocorr._progress import progress_range


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-galaxies", type=int, default=200)
    ap.add_argument("--true-G", type=float, default=1.3)
    ap.add_argument("--start", type=float, default=1.0)
    ap.add_argument("--approach", default="none")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--outdir", default=None, help="unused (prints only); accepted like the other examples")
    args = ap.parse_args()
    kw = dict(n_galaxies=args.n_galaxies, approach=args.approach, n_clusters=50, seed=0)
    target = cc.xi_plus_gradient(args.true_G, **kw).xi
    G = args.start
    state = None
    for it in progress_range(args.steps, desc="Gauss-Newton", progress=args.progress):
        r = cc.xi_plus_gradient(G, state=state, **kw)
        state = r.state
        res = r.xi - target
        step = -(r.dxi_dG @ res) / (r.dxi_dG @ r.dxi_dG)
        G = float(np.clip(G + step, 0.5 * G, 2.0 * G))
        print(f"iteration {it + 1}: G = {G:.6f}, |xi - target| = {np.linalg.norm(res):.3e}")
        if abs(step) < 1e-8 * G:
            break
    err = abs(G - args.true_G) / args.true_G
    print(f"recovered G = {G:.6f} (true {args.true_G}); relative error {err:.2e}")


if __name__ == "__main__":
    main()
