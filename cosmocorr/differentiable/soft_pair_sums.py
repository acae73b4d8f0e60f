"""Soft-binned pair sums with per-object forward (JVP) and reverse (VJP) derivatives (paper eq. 8
with the soft bins of eqs. 22-23; Algorithm 2 step 5; the chain rule of sec. 6).

For two sets of objects a and b (unit vectors ``xyz``, weights ``w`` and, for shear statistics,
weighted fields H = w g) the pass accumulates, for every bin k,

- Num+_k = sum_pairs W_k(r) Re(H_a conj(H_b) e+),  e+ = exp(-2i(phi_a - phi_b))   (xi+ numerator)
- Num-_k = sum_pairs W_k(r) Re(H_a H_b e-),        e- = exp(-2i(phi_a + phi_b))   (xi- numerator)
- Den_k  = sum_pairs W_k(r) w_a w_b                                              (soft weight / pair count)

with the shears projected onto the great circle joining the pair as TreeCorr does (the projection
of :mod:`.soft_estimator`: q_a = s - i c_a, q_b = s + i c_b, ``e+ = p^2/|p|^2`` with p = -q_a conj(q_b),
``e- = m^2/|m|^2`` with m = q_a q_b) and r the chord form of eq. 16 in arcmin.

``pairs``: ``"upper"`` (a is b, unordered pairs i < j: auto-correlations), ``"offdiag"`` (a and b
at the same positions, every ordered pair i != j: two fields at the same positions, as the rho
statistics) or ``"all"`` (distinct sets: data-random pairs).

Tangents: ``dxyz`` (3, n, P), ``dH`` (2, n, P) (real, imaginary), ``dw`` (n, P) per side, any of
them None; the pass returns d Num, d Den (3, nbins, P) by forward-mode rules written per pair.
Cotangents on (Num+, Num-, Den) (3, nbins): the reverse pass returns per-object gradients
d L / d xyz (3, n), d L / d H (2, n), d L / d w (n,) per side, with the adjoint rules written per
pair and reduced over the tile's rows (side a) and columns (side b) by matrix-vector products.
No (N, N) array is formed: the pairs are taken in tiles of about 10^4 pairs, and the objects
are first put in k-d tree order so that each block of objects is compact on the sky; a tile whose
closest possible pair lies beyond the cut-off r_cut (where every soft weight and its derivative is
below exp(-40) ~ 4e-18, see :func:`cutoff`) is skipped, in the value pass and in the derivative
passes alike. Memory is O(N + number of tiles x block size).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

from .._parallel import thread_map
from ..sky.geometry import ARCMIN

__all__ = ["Side", "pair_sums", "cutoff", "LOG_SKIP"]

#: tiles whose soft weights are all below exp(-LOG_SKIP) are skipped
LOG_SKIP = 40.0


@dataclass
class Side:
    """One set of objects: ``xyz`` (3, n), ``w`` (n,), ``H`` (2, n) weighted field or None, and
    their tangents (trailing axis P) or None."""

    xyz: np.ndarray
    w: np.ndarray
    H: np.ndarray = None
    dxyz: np.ndarray = None
    dw: np.ndarray = None
    dH: np.ndarray = None

    @property
    def n(self):
        """Number of objects on this side."""
        return self.xyz.shape[1]


def cutoff(edges, alpha, kind):
    """Separation (arcmin) beyond which every soft weight W_k and alpha * W_k is below
    exp(-LOG_SKIP): sigmoid (eq. 22) W_k < exp(-alpha (r - max_sep)); Gaussian (eq. 23)
    W_k < exp(-alpha (r - c_last)^2)."""
    if kind == "hard":
        return float(edges[-1])
    if kind == "sigmoid":
        return float(edges[-1] + (LOG_SKIP + np.log1p(alpha)) / alpha)
    c = 0.5 * (edges[-2] + edges[-1])
    return float(c + np.sqrt((LOG_SKIP + np.log1p(2 * alpha)) / alpha))


def _kd_order(xyz, leaf):
    """Permutation putting objects in k-d tree order (split on the widest axis at a multiple of
    ``leaf``), so that every block of ``leaf`` consecutive objects is compact."""
    n = xyz.shape[1]
    order = np.arange(n)
    stack = [(0, n)]
    while stack:
        i0, i1 = stack.pop()
        m = i1 - i0
        if m <= leaf:
            continue
        seg = order[i0:i1]
        pts = xyz[:, seg]
        axis = int(np.argmax(pts.max(axis=1) - pts.min(axis=1)))
        half = leaf * max(1, int(np.ceil(m / leaf / 2)))
        if half >= m:
            continue
        part = np.argpartition(pts[axis], half)
        order[i0:i1] = seg[part]
        stack += [(i0, i0 + half), (i0 + half, i1)]
    return order


def _caps(xyz, bs):
    """Centre (3, nblocks) and angular radius (radians) of every block of ``bs`` objects."""
    n = xyz.shape[1]
    starts = np.arange(0, n, bs)
    sums = np.add.reduceat(xyz, starts, axis=1)
    cen = sums / np.maximum(np.linalg.norm(sums, axis=0), 1e-300)
    owner = np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))
    chord = np.linalg.norm(xyz - cen[:, owner], axis=0)
    rad = np.maximum.reduceat(2 * np.arcsin(np.minimum(chord / 2, 1.0)), starts)
    return cen, rad


def _permute(side, order):
    t = lambda x, ax: None if x is None else np.ascontiguousarray(np.take(x, order, axis=ax))  # noqa: E731
    return Side(t(side.xyz, 1), t(side.w, 0), t(side.H, 1), t(side.dxyz, 1), t(side.dw, 0), t(side.dH, 1))


def _fast_sigmoid(edges, alpha, kind):
    """Whether :func:`_weights` takes its one-exponential sigmoid path."""
    return kind == "sigmoid" and alpha * edges[-1] < 650.0


def _weights(r, edges, alpha, kind, deriv, scaled=True):
    """Soft weights W (nbins, npairs) (eqs. 22-23) and, with ``deriv``, dW/dr; ``kind="hard"``:
    the indicator of edges[k] <= r < edges[k+1], r > 0 (TreeCorr's bins, eq. 8), dW/dr = 0.
    With ``scaled=False`` the sigmoid path (:func:`_fast_sigmoid`) returns dW/dr / alpha (the caller
    folds alpha into a smaller array).

    Sigmoid bins with alpha * max_sep < 650 use one exponential per pair: with
    t_j = exp(-alpha r) exp(alpha e_j) = exp(alpha (e_j - r)), sigma(alpha (r - e_j)) = 1 / (1 + t_j)
    and sigma(alpha (e_j - r)) = t_j / (1 + t_j), to a relative 1e-16 alpha r (< 1e-13) near the
    edges (the rounding of the exponent); where exp(-alpha r) underflows
    (alpha r > 745) every weight is below exp(-95) and is set to 0.
    """
    nb = edges.size - 1
    W = np.empty((nb, r.size))
    Wp = np.empty((nb, r.size)) if deriv else None
    if _fast_sigmoid(edges, alpha, kind):
        u = np.exp(-alpha * r)
        E_prev = None
        for j in range(nb + 1):
            t = u * np.exp(alpha * edges[j])
            E = 1.0 + t
            np.reciprocal(E, out=E)             # sigma(alpha (r - e_j))
            F = t
            F *= E                              # sigma(alpha (e_j - r))
            if j:
                k = j - 1
                np.multiply(E_prev, F, out=W[k])
                if deriv:
                    np.subtract(F, E_prev, out=Wp[k])
                    Wp[k] *= W[k]
                    if scaled:
                        Wp[k] *= alpha
            E_prev = E
        return W, Wp
    for k in range(nb):
        a, b = edges[k], edges[k + 1]
        if kind == "hard":                       # the exact estimator's bins: dW/dr = 0 a.e.
            W[k] = (r >= a) & (r < b) & (r > 0)
            if deriv:
                Wp[k] = 0.0
        elif kind == "sigmoid":
            s1 = expit(alpha * (r - a))
            s2 = expit(alpha * (b - r))
            W[k] = s1 * s2
            if deriv:
                Wp[k] = alpha * W[k] * (s2 - s1)
        else:
            x = r - 0.5 * (a + b)
            W[k] = np.exp(-alpha * x * x)
            if deriv:
                Wp[k] = -2.0 * alpha * x * W[k]
    return W, Wp


def pair_sums(a, b, pairs, edges, alpha, kind, *, jvp=False, cotangent=None, block=None):
    """Soft pair sums (Num+, Num-, Den) (3, nbins), with their tangents and/or per-object gradients.

    Parameters
    ----------
    a, b : Side
        The two sets (``b`` is ignored for ``pairs="upper"``; for ``"offdiag"`` it must hold the
        same positions as ``a``). Shear terms are computed when both carry ``H``.
    pairs : {"upper", "offdiag", "all"}
    edges : ndarray (nbins + 1,)
        Bin edges in arcmin.
    alpha : float
        Soft-bin sharpness; ``kind``: "sigmoid" (eq. 22) or "gaussian" (eq. 23).
    jvp : bool
        Also return the tangents (3, nbins, P) of the sums, from the sides' tangents.
    cotangent : ndarray (3, nbins), optional
        Cotangents on (Num+, Num-, Den): also return per-object gradients.
    block : int, optional
        Objects per block (default max(48, 96 / sqrt(P)): small blocks keep the tile's arrays in
        cache and the skip test tight).

    Returns
    -------
    dict
        ``"sums"`` (3, nbins); with ``jvp`` ``"dsums"`` (3, nbins, P); with ``cotangent``
        ``"grad_a"`` and ``"grad_b"`` (for "upper" both sides' terms are in ``grad_a``), dicts of
        ``xyz`` (3, n), ``H`` (2, n), ``w`` (n,).
    """
    if pairs == "upper":
        b = a
    shear = a.H is not None and b.H is not None
    edges = np.asarray(edges, dtype=float)
    nb = edges.size - 1
    P = 0
    if jvp:
        for s in (a, b):
            for t in (s.dxyz, s.dw, s.dH):
                if t is not None:
                    P = t.shape[-1]
    jvp = jvp and P > 0
    rev = cotangent is not None
    if block is None:
        block = int(max(48, 96 / np.sqrt(max(P, 1))))
    same_order = pairs in ("upper", "offdiag")
    oa = _kd_order(a.xyz, block)
    ob = oa if same_order else _kd_order(b.xyz, block)
    A = _permute(a, oa)
    B = A if pairs == "upper" else _permute(b, ob)
    ca_, ra_ = _caps(A.xyz, block)
    cb_, rb_ = (ca_, ra_) if same_order else _caps(B.xyz, block)
    rcut = cutoff(edges, alpha, kind) * ARCMIN
    # lower bound of the separation of any pair of two blocks
    gap = 2 * np.arcsin(np.minimum(np.linalg.norm(ca_[:, :, None] - cb_[:, None, :], axis=0) / 2, 1.0))
    keep = gap - ra_[:, None] - rb_[None, :] <= rcut
    if pairs == "upper":
        keep = np.triu(keep)
    cot = None if not rev else np.asarray(cotangent, dtype=float)
    if rev:
        # rows Num+, Num-, Den; for dW/dr with the factors alpha (when _weights leaves it out) and
        # 1/ARCMIN of dr/dh folded in (see the reverse pass in tile)
        wfac = (alpha if not jvp and _fast_sigmoid(edges, alpha, kind) else 1.0) / ARCMIN
        cotp = cot * wfac
    na, nbo = A.n, B.n

    def zeros_like_side(s, lo, hi):
        return {"xyz": np.zeros((3, hi - lo)), "H": np.zeros((2, hi - lo)) if shear else None,
                "w": np.zeros(hi - lo)}

    def tile(i0, i1, j0, j1, acc, ga, gb):
        R = lambda v: v[..., i0:i1, None]   # noqa: E731  rows: column vectors
        C = lambda v: v[..., None, j0:j1]   # noqa: E731  columns: row vectors
        ax, ay, az = R(A.xyz)
        bx, by, bz = C(B.xyz)
        mask = None
        if pairs == "upper" and i0 == j0:
            mask = np.arange(j0, j1)[None, :] > np.arange(i0, i1)[:, None]
        elif pairs == "offdiag" and i0 == j0:
            mask = np.arange(j0, j1)[None, :] != np.arange(i0, i1)[:, None]
        dx, dy, dz = ax - bx, ay - by, az - bz
        d2 = dx * dx + dy * dy + dz * dz
        sq = np.sqrt(d2)
        r = (2.0 / ARCMIN) * np.arcsin(np.minimum(0.5 * sq, 1.0))
        h = 0.5 * d2
        wa, wb = R(A.w), C(B.w)
        ww = wa * wb
        if mask is not None:
            ww = ww * mask
        cols = [ww]
        if shear:
            s = ay * bx - ax * by
            cA = az * h - dz
            cB = bz * h + dz
            pr = cA * cB - s * s
            pi = s * (cA + cB)
            mr = s * s + cA * cB
            mi = s * (cB - cA)
            ip = 1.0 / np.maximum(pr * pr + pi * pi, 1e-300)
            im = 1.0 / np.maximum(mr * mr + mi * mi, 1e-300)
            epr, epi = (pr * pr - pi * pi) * ip, 2.0 * pr * pi * ip
            emr, emi = (mr * mr - mi * mi) * im, 2.0 * mr * mi * im
            Har, Hai = R(A.H)
            Hbr, Hbi = C(B.H)
            Xpr, Xpi = Har * Hbr + Hai * Hbi, Hai * Hbr - Har * Hbi       # H_a conj(H_b)
            Xmr, Xmi = Har * Hbr - Hai * Hbi, Har * Hbi + Hai * Hbr       # H_a H_b
            Tp = Xpr * epr - Xpi * epi
            Tm = Xmr * emr - Xmi * emi
            if mask is not None:
                Tp, Tm = Tp * mask, Tm * mask
            cols = [Tp, Tm, ww]
        npair = r.size
        W, Wp = _weights(r.ravel(), edges, alpha, kind, jvp or rev, scaled=jvp)
        Q = np.stack([c.ravel() for c in cols])                             # (1 or 3, npairs)
        acc["sums"][3 - Q.shape[0]:] += Q @ W.T
        if not (jvp or rev):
            return
        if jvp:
            den = np.maximum(sq * np.sqrt(np.maximum(1.0 - 0.5 * h, 0.0)), 1e-300) * ARCMIN   # dr/dh = 1/den
            zero3 = np.zeros((3, 1, 1, P))
            tA = zero3 if A.dxyz is None else A.dxyz[:, i0:i1, None, :]
            tB = zero3 if B.dxyz is None else B.dxyz[:, None, j0:j1, :]
            e = lambda x: x[..., None]   # noqa: E731
            ddx, ddy, ddz = tA[0] - tB[0], tA[1] - tB[1], tA[2] - tB[2]
            hd = e(dx) * ddx + e(dy) * ddy + e(dz) * ddz
            rd = hd / e(den)
            wad = 0.0 if A.dw is None else A.dw[i0:i1, None, :]
            wbd = 0.0 if B.dw is None else B.dw[None, j0:j1, :]
            wwd = np.broadcast_to(wad * e(wb) + e(wa) * wbd, (i1 - i0, j1 - j0, P))
            if mask is not None:
                wwd = wwd * e(mask)
            dcols = [(ww, wwd)]
            if shear:
                sd = tA[1] * e(bx) + e(ay) * tB[0] - tA[0] * e(by) - e(ax) * tB[1]
                cAd = tA[2] * e(h) + e(az) * hd - ddz
                cBd = tB[2] * e(h) + e(bz) * hd + ddz
                prd = cAd * e(cB) + e(cA) * cBd - 2.0 * e(s) * sd
                pid = sd * e(cA + cB) + e(s) * (cAd + cBd)
                mrd = 2.0 * e(s) * sd + cAd * e(cB) + e(cA) * cBd
                mid = sd * e(cB - cA) + e(s) * (cBd - cAd)
                qp = 2.0 * e(ip) * (e(pr) * pid - e(pi) * prd)      # e+' = i e+ qp
                qm = 2.0 * e(im) * (e(mr) * mid - e(mi) * mrd)      # e-' = i e- qm
                z = np.zeros((2, 1, 1, P))
                hA = z if A.dH is None else A.dH[:, i0:i1, None, :]
                hB = z if B.dH is None else B.dH[:, None, j0:j1, :]
                Xprd = hA[0] * e(Hbr) + e(Har) * hB[0] + hA[1] * e(Hbi) + e(Hai) * hB[1]
                Xpid = hA[1] * e(Hbr) + e(Hai) * hB[0] - hA[0] * e(Hbi) - e(Har) * hB[1]
                Xmrd = hA[0] * e(Hbr) + e(Har) * hB[0] - hA[1] * e(Hbi) - e(Hai) * hB[1]
                Xmid = hA[0] * e(Hbi) + e(Har) * hB[1] + hA[1] * e(Hbr) + e(Hai) * hB[0]
                # T' = Re(X' e) + Re(X i e q) = Re(X' e) - Im(X e) q
                Tpd = Xprd * e(epr) - Xpid * e(epi) - e(Xpr * epi + Xpi * epr) * qp
                Tmd = Xmrd * e(emr) - Xmid * e(emi) - e(Xmr * emi + Xmi * emr) * qm
                if mask is not None:
                    Tpd, Tmd = Tpd * e(mask), Tmd * e(mask)
                dcols = [(Tp, Tpd), (Tm, Tmd), (ww, wwd)]
            rdf = rd.reshape(npair, P)
            for q, (val, tan) in enumerate(dcols):
                row = 3 - len(dcols) + q
                acc["dsums"][row] += Wp @ (val.reshape(npair, 1) * rdf) + W @ np.broadcast_to(tan, (i1 - i0, j1 - j0, P)).reshape(npair, P)
        if rev:
            # per-pair adjoints: bT = sum_k c_k W_k for (Num+, Num-, Den) and, for the separation,
            # sum_k c_k dW_k/dr (times alpha when _weights left it out, and 1/ARCMIN: see cotp)
            shp = ww.shape
            bT = (cot @ W).reshape(3, *shp)
            bTr = (cotp @ Wp).reshape(3, *shp)
            bww = bT[2]
            if mask is not None:
                bT *= mask
            # weights: ww = w_a w_b
            ga["w"] += bww @ wb.ravel()
            gb["w"] += wa.ravel() @ bww
            # r = (2/ARCMIN) arcsin(sqrt(2h)/2): dr/dh = 1 / (ARCMIN sqrt(h (2 - h)))
            br = bTr[2]
            br *= ww
            if shear:
                t1 = np.multiply(bTr[0], Tp)
                br += t1
                np.multiply(bTr[1], Tm, out=t1)
                br += t1
            dd = np.subtract(2.0, h)
            dd *= h
            np.sqrt(dd, out=dd)
            np.maximum(dd, 1e-300, out=dd)
            bh = np.divide(br, dd, out=br)
            Bxyz = B.xyz[:, j0:j1].T                 # (ncols, 3)
            if shear:
                bTp, bTm = bT[0], bT[1]
                # T+ = Re(X+ e+), X+ = H_a conj(H_b); T- = Re(X- e-), X- = H_a H_b
                P1 = bTp * epr
                P2 = bTm * emr
                Q1 = bTp * epi
                Q2 = bTm * emi
                A1 = P1 + P2
                A2 = np.subtract(P1, P2, out=P1)
                B1 = np.subtract(Q1, Q2, out=P2)   # bXmi - bXpi
                B2 = np.add(Q1, Q2, out=Q1)        # -(bXpi + bXmi)
                Hb = B.H[:, j0:j1].T                 # (ncols, 2): real, imaginary
                Ha = A.H[:, i0:i1]                   # (2, nrows)
                r1, r2 = A1 @ Hb, A2 @ Hb
                s1, s2 = B1 @ Hb, B2 @ Hb
                ga["H"][0] += r1[:, 0] + s1[:, 1]
                ga["H"][1] += r2[:, 1] - s2[:, 0]
                c1, c2 = Ha @ A1, Ha @ A2
                d1, d2_ = Ha @ B1, Ha @ B2
                gb["H"][0] += c1[0] - d2_[1]
                gb["H"][1] += c2[1] + d1[0]
                # through e = p^2/|p|^2 (e+: p = -q_a conj(q_b); e-: p = q_a q_b, both |p|^2 =
                # |q_a|^2 |q_b|^2 = KA KB, ip = 1/(KA KB)): dT = -2 Im(X e) Im(dp conj(p)) ip.
                # With q_a = s - i cA, q_b = s + i cB this collapses to
                # d/dcA = s U, d/dcB = s V, d/ds = -(cA U + cB V),
                # U = 2 ip KB (bT+ Im(X+ e+) + bT- Im(X- e-)), V = 2 ip KA (bT+ Im(X+ e+) - bT- Im(X- e-))
                Yp = Xpr * epi
                t2 = Xpi * epr
                Yp += t2
                Yp *= bTp
                Ym = np.multiply(Xmr, emi, out=t2)
                Ym += Xmi * emr
                Ym *= bTm
                ipt = 2.0 * ip
                Yp *= ipt
                Ym *= ipt
                U = Yp + Ym
                V = np.subtract(Yp, Ym, out=Yp)
                s2_ = s * s
                KB = cB * cB
                KB += s2_
                U *= KB
                KA = np.multiply(cA, cA, out=KB)
                KA += s2_
                V *= KA
                bcA = np.multiply(s, U, out=KA)
                bcB = np.multiply(s, V, out=s2_)
                bs = cA * U
                bs += np.multiply(cB, V, out=U)
                # cA = az h - dz, cB = bz h + dz (dz = az - bz)
                hm1 = h - 1.0
                tz = bcA * hm1
                ga["xyz"][2] += tz.sum(axis=1) + bcB.sum(axis=1)
                np.multiply(bcB, hm1, out=tz)
                gb["xyz"][2] += tz.sum(axis=0) + bcA.sum(axis=0)
                bh += np.multiply(bcA, az, out=tz)
                bh += np.multiply(bcB, bz, out=tz)
                # s = a_y b_x - a_x b_y
                sb = bs @ Bxyz[:, :2]
                ga["xyz"][0] += sb[:, 1]
                ga["xyz"][1] -= sb[:, 0]
                sa = A.xyz[:2, i0:i1] @ bs
                gb["xyz"][0] -= sa[1]
                gb["xyz"][1] += sa[0]
            if mask is not None:
                bh *= mask
            rs = bh.sum(axis=1)
            cs = bh.sum(axis=0)
            # h = |a - b|^2 / 2: dh/da = a - b
            ga["xyz"] += A.xyz[:, i0:i1] * rs - (bh @ Bxyz).T
            gb["xyz"] += B.xyz[:, j0:j1] * cs - A.xyz[:, i0:i1] @ bh

    nblk_a = -(-na // block)
    nblk_b = -(-nbo // block)

    def row_block(I):
        i0, i1 = I * block, min(na, (I + 1) * block)
        acc = {"sums": np.zeros((3, nb))}
        if jvp:
            acc["dsums"] = np.zeros((3, nb, P))
        ga = zeros_like_side(A, i0, i1) if rev else None
        gbs = {}
        with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
            for J in np.flatnonzero(keep[I]):
                j0, j1 = J * block, min(nbo, (J + 1) * block)
                gb = zeros_like_side(B, j0, j1) if rev else None
                tile(i0, i1, j0, j1, acc, ga, gb)
                if rev:
                    gbs[J] = gb
        return acc, ga, gbs

    with threadpool_limits(1, user_api="blas"):
        parts = thread_map(row_block, range(nblk_a), limit_blas=False)
    out = {"sums": sum(p[0]["sums"] for p in parts)}
    if jvp:
        out["dsums"] = sum(p[0]["dsums"] for p in parts)
    if rev:
        def empty(n):
            return {"xyz": np.zeros((3, n)), "H": np.zeros((2, n)) if shear else None, "w": np.zeros(n)}
        gA = empty(na)
        gB = gA if pairs == "upper" else empty(nbo)
        for I, (_, ga, gbs) in enumerate(parts):        # fixed order: independent of the threads
            i0, i1 = I * block, min(na, (I + 1) * block)
            for k, v in ga.items():
                if v is not None:
                    gA[k][..., i0:i1] += v
            for J, gb in gbs.items():
                j0, j1 = J * block, min(nbo, (J + 1) * block)
                for k, v in gb.items():
                    if v is not None:
                        gB[k][..., j0:j1] += v
        out["grad_a"] = _unpermute(gA, oa)
        out["grad_b"] = out["grad_a"] if pairs == "upper" else _unpermute(gB, ob)
    return out


def _unpermute(g, order):
    out = {}
    for k, v in g.items():
        if v is None:
            out[k] = None
            continue
        u = np.empty_like(v)
        u[..., order] = v
        out[k] = u
    return out
