"""Per-object derivatives of the soft estimators: values, JVPs and VJPs (paper sec. 6, Algorithm 2
step 5, soft bins of eqs. 22-23; the chain rule d xi/d theta = sum_i d xi/d alpha_i d alpha_i/d theta
+ d xi/d delta_i d delta_i/d theta).

Any forward model (a PSF model, an IA model, an N-body emulator) that produces a catalog can
differentiate the correlation functions with respect to its parameters theta:

- **JVP** (forward): give the tangents d(object quantity)/d theta as ``tangents={"ra": (N, P), ...}``
  (any subset; angles in degrees, as the catalog) and get d xi / d theta, (nbins, P);
- **VJP** (reverse): give a cotangent over the bins (e.g. dL/d xi of a loss) and get dL / d(object
  quantity) for every object in one reverse pass.

Statistics: soft shear-shear xi+ and xi- (eq. 8 with W_k weights), the soft Landy-Szalay estimator
(eq. 1 with soft pair counts; derivatives in the data's positions and weights, randoms fixed) and
the soft rho statistics (eqs. 2-6). :func:`exact_shear_shear` is the exact (sharp-bin) estimator
of eq. 8 with its derivatives in the shears and weights: its bins are indicator functions of the
separation, so it is not differentiable in the positions (a pair crossing a bin edge is a jump);
positions are differentiable only through soft bins.

All pair sums are tiled (:mod:`.soft_pair_sums`): no (N, N) array, tiles beyond the soft bins'
reach skipped. Per-object arrays refer to the catalog's objects after zero-weight removal
(``cat.ra``, ``len(cat)``). Empty bins (soft weight sum 0) are NaN in the value and tangent and
take no cotangent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_choice, check_real
from ..sky.bins import Bins
from ..sky.catalog import Catalog
from ..sky.geometry import DEG
from ..sky.stars import StarCatalog
from .soft_bin_weights import KINDS
from .soft_pair_sums import Side, pair_sums

__all__ = ["SoftShearShearResult", "SoftLandySzalayResult", "SoftRhoResult", "soft_shear_shear",
           "soft_shear_shear_vjp", "exact_shear_shear", "exact_shear_shear_vjp", "soft_landy_szalay",
           "soft_landy_szalay_vjp", "soft_rho", "soft_rho_vjp", "RHO_INPUTS"]

SHEAR_INPUTS = ("ra", "dec", "g1", "g2", "w")
COUNT_INPUTS = ("ra", "dec", "w")
#: per-star inputs of the rho statistics (paper eqs. 2-6)
RHO_INPUTS = ("ra", "dec", "w", "g1_star", "g2_star", "T_star", "g1_model", "g2_model", "T_model")
RHO_FIELDS = {"rho1": ("de", "de"), "rho2": ("e", "de"), "rho3": ("edt", "edt"), "rho4": ("de", "edt"),
              "rho5": ("e", "edt")}


@dataclass
class SoftShearShearResult:
    """Soft xi+ and xi- per bin, the soft weight sums, and with tangents d xi/d theta (nbins, P)."""

    bins: Bins
    xip: np.ndarray
    xim: np.ndarray
    weight: np.ndarray
    dxip: np.ndarray = None
    dxim: np.ndarray = None
    alpha: float = None
    kind: str = "sigmoid"


@dataclass
class SoftLandySzalayResult:
    """Soft omega(theta) per bin (eq. 1), the soft pair sums DD, DR, RR, and with tangents d xi."""

    bins: Bins
    xi: np.ndarray
    dd: np.ndarray
    dr: np.ndarray
    rr: np.ndarray
    dxi: np.ndarray = None
    alpha: float = None
    kind: str = "sigmoid"


@dataclass
class SoftRhoResult:
    """The five soft rho statistics, each a :class:`SoftShearShearResult` (``rho["rho1"].xip``)."""

    bins: Bins
    rho: dict

    def __getitem__(self, name):
        return self.rho[name]


# ------------------------------------------------------------------------------------- checks
def _check_common(bins, alpha, kind, kinds=KINDS):
    if not isinstance(bins, Bins):
        raise TypeError(f"bins must be a cosmocorr.Bins, got {type(bins).__name__}")
    check_choice(kind, "kind", kinds)
    return float(check_real(alpha, "alpha", low=0.0, low_open=True))


def _check_tangents(tangents, n, allowed):
    """``tangents``: dict name -> (n, P) (or (n,): P = 1) with names in ``allowed``; returns
    (dict of (n, P) float arrays, P)."""
    if tangents is None:
        return {}, 0
    if not isinstance(tangents, dict):
        raise TypeError(f"tangents must be a dict of per-object arrays, got {type(tangents).__name__}")
    bad = sorted(set(tangents) - set(allowed))
    if bad:
        raise ValueError(f"tangents: unknown keys {bad}; allowed: {list(allowed)}")
    out, P = {}, None
    for k, t in tangents.items():
        t = np.asarray(t, dtype=float)
        if t.ndim == 1:
            t = t[:, None]
        if t.ndim != 2 or t.shape[0] != n:
            raise ValueError(f"tangents[{k!r}] must have shape ({n}, P), got {np.shape(tangents[k])}")
        if not np.all(np.isfinite(t)):
            raise ValueError(f"tangents[{k!r}] contains NaN or infinite values")
        if P is not None and t.shape[1] != P:
            raise ValueError(f"tangents[{k!r}] has {t.shape[1]} columns but another tangent has {P}")
        P = t.shape[1]
        out[k] = t
    return out, (P or 0)


def _check_cotangent(c, nbins, name, required=True):
    if c is None:
        if required:
            raise ValueError(f"{name} is required")
        return np.zeros(nbins)
    c = as_float_array(c, name)
    if c.shape != (nbins,):
        raise ValueError(f"{name} must have shape ({nbins},) (one value per bin), got {c.shape}")
    return c


# ------------------------------------------------------------------------- positions <-> xyz
def _xyz_basis(ra, dec):
    """d xyz / d ra and d xyz / d dec (3, N), per degree."""
    a, d = ra * DEG, dec * DEG
    e_ra = np.stack([-np.cos(d) * np.sin(a), np.cos(d) * np.cos(a), np.zeros_like(a)]) * DEG
    e_dec = np.stack([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)]) * DEG
    return e_ra, e_dec


def _dxyz(ra, dec, tan, P):
    if "ra" not in tan and "dec" not in tan:
        return None
    e_ra, e_dec = _xyz_basis(ra, dec)
    z = np.zeros((ra.size, P))
    return e_ra[:, :, None] * tan.get("ra", z)[None] + e_dec[:, :, None] * tan.get("dec", z)[None]


def _pos_grad(ra, dec, gxyz):
    e_ra, e_dec = _xyz_basis(ra, dec)
    return np.sum(gxyz * e_ra, axis=0), np.sum(gxyz * e_dec, axis=0)


def _field_side(xyz, w, f, dxyz, dw, df):
    """A :class:`Side` with H = w f (f complex (N,)), dH = dw f + w df (df complex (N, P) or None)."""
    H = np.stack([w * f.real, w * f.imag])
    dH = None
    if dw is not None or df is not None:
        P = (dw if dw is not None else df).shape[1]
        dH = np.zeros((2, w.size, P))
        if dw is not None:
            dH += np.stack([dw * f.real[:, None], dw * f.imag[:, None]])
        if df is not None:
            dH += np.stack([w[:, None] * df.real, w[:, None] * df.imag])
    return Side(xyz, w, H, dxyz, dw, dH)


def _ratio_jvp(num, den, dnum, dden):
    """xi = num / den and its tangent (nbins, P); empty bins NaN."""
    empty = den == 0
    safe = np.where(empty, 1.0, den)
    xi = np.where(empty, np.nan, num / safe)
    if dnum is None:
        return xi, None
    d = (dnum - np.where(empty, 0.0, xi)[:, None] * dden) / safe[:, None]
    return xi, np.where(empty[:, None], np.nan, d)


def _shear_cotangent(sums, cp, cm):
    """Cotangents on (Num+, Num-, Den) from cotangents on xi+ = Num+/Den, xi- = Num-/Den."""
    num_p, num_m, den = sums
    empty = den == 0
    safe = np.where(empty, 1.0, den)
    cp, cm = np.where(empty, 0.0, cp), np.where(empty, 0.0, cm)
    return np.stack([cp / safe, cm / safe, -(cp * num_p + cm * num_m) / safe**2])


# ------------------------------------------------------------------------------ shear-shear
def _shear_checked(cat, bins, alpha, kind, kinds=KINDS):
    if not isinstance(cat, Catalog):
        raise TypeError(f"cat must be a cosmocorr.Catalog, got {type(cat).__name__}")
    if not cat.has_shear:
        raise ValueError("cat has no shears (g1, g2): shear-shear needs them")
    return _check_common(bins, alpha, kind, kinds)


def _shear_side(cat, tan, P):
    dxyz = _dxyz(cat.ra, cat.dec, tan, P)
    df = None
    if "g1" in tan or "g2" in tan:
        z = np.zeros((len(cat), P))
        df = tan.get("g1", z) + 1j * tan.get("g2", z)
    return _field_side(cat.xyz, cat.w, cat.g, dxyz, tan.get("w"), df)


def soft_shear_shear(cat, bins, alpha=1.0, kind="sigmoid", tangents=None):
    """Soft-binned xi+ and xi- (eq. 8 with the soft bins of eqs. 22-23) and their JVP.

    Parameters
    ----------
    cat : Catalog
        Positions, shears g1, g2 and weights w.
    bins : Bins
    alpha : float
        Soft-bin sharpness (1/arcmin for "sigmoid", 1/arcmin^2 for "gaussian").
    kind : {"sigmoid", "gaussian"}
    tangents : dict, optional
        Tangents d(quantity)/d theta per object, (N, P) for P parameters (or (N,): P = 1), for any
        subset of ``"ra"``, ``"dec"`` (degrees per unit theta), ``"g1"``, ``"g2"``, ``"w"``.

    Returns
    -------
    SoftShearShearResult
        ``xip``, ``xim``, ``weight`` (nbins,); with tangents ``dxip``, ``dxim`` (nbins, P).
    """
    alpha = _shear_checked(cat, bins, alpha, kind, KINDS)
    return _shear_shear(cat, bins, alpha, kind, tangents, SHEAR_INPUTS)


def _shear_shear(cat, bins, alpha, kind, tangents, allowed):
    tan, P = _check_tangents(tangents, len(cat), allowed)
    out = pair_sums(_shear_side(cat, tan, P), None, "upper", bins.edges, alpha, kind, jvp=P > 0)
    s, ds = out["sums"], out.get("dsums")
    xip, dxip = _ratio_jvp(s[0], s[2], None if ds is None else ds[0], None if ds is None else ds[2])
    xim, dxim = _ratio_jvp(s[1], s[2], None if ds is None else ds[1], None if ds is None else ds[2])
    return SoftShearShearResult(bins, xip, xim, s[2].copy(), dxip, dxim, alpha, kind)


def soft_shear_shear_vjp(cat, bins, cotangent_xip, cotangent_xim=None, alpha=1.0, kind="sigmoid", value=None):
    """VJP of the soft xi+ and xi- (eq. 8, soft bins eqs. 22-23): per-object dL/d(quantity) for
    L = sum_k c+_k xi+_k + c-_k xi-_k, in one tiled reverse pass (after one value pass, unless
    ``value`` gives its result).

    Parameters
    ----------
    cat : Catalog
    bins : Bins
    cotangent_xip : array (nbins,)
        dL/d xi+ per bin.
    cotangent_xim : array (nbins,), optional
        dL/d xi- per bin (default 0).
    alpha, kind :
        As :func:`soft_shear_shear`.
    value : SoftShearShearResult, optional
        The result of :func:`soft_shear_shear` for the same catalog, bins, alpha and kind (e.g. the
        forward pass of a reverse-mode AD rule): its ``xip``, ``xim``, ``weight`` give the bin sums,
        so only the reverse pass runs.

    Returns
    -------
    dict
        ``ra``, ``dec`` (per degree), ``g1``, ``g2``, ``w``: arrays (N,).
    """
    alpha = _shear_checked(cat, bins, alpha, kind, KINDS)
    return _shear_shear_vjp(cat, bins, cotangent_xip, cotangent_xim, alpha, kind, value)


def _sums_from(value, bins, alpha, kind):
    """(Num+, Num-, Den) from a :class:`SoftShearShearResult` (empty bins: 0)."""
    if not isinstance(value, SoftShearShearResult):
        raise TypeError(f"value must be a SoftShearShearResult, got {type(value).__name__}")
    if value.bins != bins or value.kind != kind or (kind != "hard" and value.alpha != alpha):
        raise ValueError("value was computed with other bins, alpha or kind than this call")
    den = np.asarray(value.weight, dtype=float)
    return np.stack([np.nan_to_num(value.xip * den), np.nan_to_num(value.xim * den), den])


def _shear_shear_vjp(cat, bins, cotangent_xip, cotangent_xim, alpha, kind, value=None):
    cp = _check_cotangent(cotangent_xip, bins.nbins, "cotangent_xip")
    cm = _check_cotangent(cotangent_xim, bins.nbins, "cotangent_xim", required=False)
    side = _shear_side(cat, {}, 0)
    if value is not None:
        sums = _sums_from(value, bins, alpha, kind)
    else:
        sums = pair_sums(side, None, "upper", bins.edges, alpha, kind)["sums"]
    g = pair_sums(side, None, "upper", bins.edges, alpha, kind, cotangent=_shear_cotangent(sums, cp, cm))["grad_a"]
    return _shear_grads(cat.ra, cat.dec, cat.w, cat.g, g)


def _shear_grads(ra, dec, w, f, g):
    """Per-object gradients (ra, dec, g1, g2, w) from those of (xyz, H = w f, w)."""
    gra, gdec = _pos_grad(ra, dec, g["xyz"])
    return {"ra": gra, "dec": gdec, "g1": w * g["H"][0], "g2": w * g["H"][1],
            "w": g["w"] + g["H"][0] * f.real + g["H"][1] * f.imag}


def exact_shear_shear(cat, bins, tangents=None):
    """The exact (sharp-bin) xi+ and xi- of eq. 8 and their JVP in the shears and weights.

    The bins are indicators of the separation, so the estimator is piecewise constant in the bin
    membership and not differentiable in the positions: only ``"g1"``, ``"g2"``, ``"w"`` tangents
    are accepted (``"ra"``/``"dec"`` raise ValueError: use :func:`soft_shear_shear`).

    Parameters
    ----------
    cat : Catalog
    bins : Bins
    tangents : dict, optional
        (N, P) tangents of ``g1``, ``g2``, ``w``.

    Returns
    -------
    SoftShearShearResult
        With ``kind="hard"``; ``weight`` is the weight sum per bin.
    """
    _shear_checked(cat, bins, 1.0, "hard", ("hard",))
    return _shear_shear(cat, bins, 1.0, "hard", tangents, ("g1", "g2", "w"))


def exact_shear_shear_vjp(cat, bins, cotangent_xip, cotangent_xim=None):
    """VJP of the exact (sharp-bin) xi+ and xi- (eq. 8): dL/d g1, g2, w per object.

    Parameters
    ----------
    cat : Catalog
    bins : Bins
    cotangent_xip, cotangent_xim : array (nbins,)

    Returns
    -------
    dict
        ``g1``, ``g2``, ``w`` (N,) (no position derivative: see :func:`exact_shear_shear`).
    """
    _shear_checked(cat, bins, 1.0, "hard", ("hard",))
    g = _shear_shear_vjp(cat, bins, cotangent_xip, cotangent_xim, 1.0, "hard")
    return {k: g[k] for k in ("g1", "g2", "w")}


# ----------------------------------------------------------------------------- Landy-Szalay
def _ls_checked(data, randoms, bins, alpha, kind):
    for name, c in (("data", data), ("randoms", randoms)):
        if not isinstance(c, Catalog):
            raise TypeError(f"{name} must be a cosmocorr.Catalog, got {type(c).__name__}")
    return _check_common(bins, alpha, kind)


def _ls_sums(data, randoms, bins, alpha, kind, tan=None, P=0, cot=None):
    """DD (i < j), DR (all pairs) and RR (i < j) soft weight sums, with data tangents or
    cotangents (on DD, DR) when given."""
    dside = Side(data.xyz, data.w, None, _dxyz(data.ra, data.dec, tan or {}, P), (tan or {}).get("w"))
    rside = Side(randoms.xyz, randoms.w)
    e = bins.edges
    dd = pair_sums(dside, None, "upper", e, alpha, kind, jvp=P > 0,
                   cotangent=None if cot is None else np.stack([0 * cot[0], 0 * cot[0], cot[0]]))
    dr = pair_sums(dside, rside, "all", e, alpha, kind, jvp=P > 0,
                   cotangent=None if cot is None else np.stack([0 * cot[1], 0 * cot[1], cot[1]]))
    return dd, dr


def soft_landy_szalay(data, randoms, bins, alpha=1.0, kind="sigmoid", tangents=None, rr=None):
    """Soft Landy-Szalay omega(theta) (eq. 1 with pair counts weighted by W_k, eqs. 22-23) and its
    JVP in the data's positions and weights (the randoms are fixed).

    omega = (DD/DD_tot - 2 DR/DR_tot + RR/RR_tot) / (RR/RR_tot) with DD_tot = (sum w_d)^2 / 2,
    DR_tot = sum w_d sum w_r, RR_tot = (sum w_r)^2 / 2 (TreeCorr's normalisation, as
    :func:`cosmocorr.landy_szalay`).

    Parameters
    ----------
    data, randoms : Catalog
    bins : Bins
    alpha, kind :
        As :func:`soft_shear_shear`.
    tangents : dict, optional
        (N_data, P) tangents of ``"ra"``, ``"dec"`` (degrees), ``"w"`` of the data.
    rr : array (nbins,), optional
        The randoms' soft RR sums from a previous result (``res.rr``), to skip their pass.

    Returns
    -------
    SoftLandySzalayResult
    """
    alpha = _ls_checked(data, randoms, bins, alpha, kind)
    tan, P = _check_tangents(tangents, len(data), COUNT_INPUTS)
    dd, dr = _ls_sums(data, randoms, bins, alpha, kind, tan, P)
    RR = _rr(randoms, bins, alpha, kind, rr)
    sd, sr = data.sumw, randoms.sumw
    ddt, drt, rrt = 0.5 * sd**2, sd * sr, 0.5 * sr**2
    DD, DR = dd["sums"][2], dr["sums"][2]
    rrn = np.where(RR == 0, np.nan, RR / rrt)
    xi = (DD / ddt - 2 * DR / drt + RR / rrt) / rrn
    dxi = None
    if P:
        dsw = tan["w"].sum(axis=0) if "w" in tan else np.zeros(P)
        d_ddn = dd["dsums"][2] / ddt - np.outer(DD / ddt**2, sd * dsw)
        d_drn = dr["dsums"][2] / drt - np.outer(DR / drt**2, sr * dsw)
        dxi = (d_ddn - 2 * d_drn) / rrn[:, None]
    return SoftLandySzalayResult(bins, xi, DD, DR, RR, dxi, alpha, kind)


def _rr(randoms, bins, alpha, kind, rr):
    if rr is not None:
        rr = as_float_array(rr, "rr")
        if rr.shape != (bins.nbins,):
            raise ValueError(f"rr must have shape ({bins.nbins},), got {rr.shape}")
        return rr
    return pair_sums(Side(randoms.xyz, randoms.w), None, "upper", bins.edges, alpha, kind)["sums"][2]


def soft_landy_szalay_vjp(data, randoms, bins, cotangent, alpha=1.0, kind="sigmoid", rr=None):
    """VJP of the soft Landy-Szalay omega (see :func:`soft_landy_szalay`): dL/d(ra, dec, w) of every
    data object for L = sum_k c_k omega_k (randoms fixed).

    Parameters
    ----------
    data, randoms : Catalog
    bins : Bins
    cotangent : array (nbins,)
    alpha, kind, rr :
        As :func:`soft_landy_szalay`.

    Returns
    -------
    dict
        ``ra``, ``dec``, ``w``: arrays (N_data,).
    """
    alpha = _ls_checked(data, randoms, bins, alpha, kind)
    c = _check_cotangent(cotangent, bins.nbins, "cotangent")
    RR = _rr(randoms, bins, alpha, kind, rr)
    sd, sr = data.sumw, randoms.sumw
    ddt, drt, rrt = 0.5 * sd**2, sd * sr, 0.5 * sr**2
    c = np.where(RR == 0, 0.0, c)
    rrn = np.where(RR == 0, 1.0, RR / rrt)
    dd, dr = _ls_sums(data, randoms, bins, alpha, kind, cot=np.stack([c / (ddt * rrn), -2 * c / (drt * rrn)]))
    DD, DR = dd["sums"][2], dr["sums"][2]
    gsum = np.sum(c * (-DD * sd / ddt**2 + 2 * DR * sr / drt**2) / rrn)     # dL / d(sum w_d)
    gxyz = dd["grad_a"]["xyz"] + dr["grad_a"]["xyz"]
    gra, gdec = _pos_grad(data.ra, data.dec, gxyz)
    return {"ra": gra, "dec": gdec, "w": dd["grad_a"]["w"] + dr["grad_a"]["w"] + gsum}


# ---------------------------------------------------------------------------- rho statistics
def _rho_fields(stars, tan, P):
    """The fields e, de, edt (complex (N,)) and their tangents (N, P) or None (eqs. 2-6)."""
    e = stars.g1_star + 1j * stars.g2_star
    em = stars.g1_model + 1j * stars.g2_model
    Ts, Tm = stars.T_star, stars.T_model
    dtt = (Ts - Tm) / Ts
    f = {"e": e, "de": e - em, "edt": e * dtt}
    if not P:
        return f, {"e": None, "de": None, "edt": None}
    z = np.zeros((len(stars), P))
    de_ = tan.get("g1_star", z) + 1j * tan.get("g2_star", z)
    dem = tan.get("g1_model", z) + 1j * tan.get("g2_model", z)
    ddtt = Tm[:, None] * tan.get("T_star", z) / Ts[:, None] ** 2 - tan.get("T_model", z) / Ts[:, None]
    return f, {"e": de_, "de": de_ - dem, "edt": de_ * dtt[:, None] + e[:, None] * ddtt}


def _rho_checked(stars, bins, alpha, kind):
    if not isinstance(stars, StarCatalog):
        raise TypeError(f"stars must be a cosmocorr StarCatalog, got {type(stars).__name__}")
    return _check_common(bins, alpha, kind)


def _rho_pass(stars, name, fields, dfields, dxyz, dw, bins, alpha, kind, jvp=False, cot=None):
    a, b = RHO_FIELDS[name]
    xyz, w = stars.catalog.xyz, stars.w
    A = _field_side(xyz, w, fields[a], dxyz, dw, dfields[a])
    if a == b:
        return pair_sums(A, None, "upper", bins.edges, alpha, kind, jvp=jvp, cotangent=cot)
    B = _field_side(xyz, w, fields[b], dxyz, dw, dfields[b])
    return pair_sums(A, B, "offdiag", bins.edges, alpha, kind, jvp=jvp, cotangent=cot)


def soft_rho(stars, bins, alpha=1.0, kind="sigmoid", tangents=None):
    """The soft rho statistics rho1..rho5 (eqs. 2-6 estimated with eq. 8 and soft bins, eqs. 22-23)
    and their JVP.

    rho1 and rho3 take each unordered pair once; rho2, rho4 and rho5 every ordered pair i != j (as
    :func:`cosmocorr.rho_statistics`).

    Parameters
    ----------
    stars : StarCatalog
    bins : Bins
    alpha, kind :
        As :func:`soft_shear_shear`.
    tangents : dict, optional
        (N, P) tangents of any of ``RHO_INPUTS``: ``ra``, ``dec`` (degrees), ``w``, ``g1_star``,
        ``g2_star``, ``T_star``, ``g1_model``, ``g2_model``, ``T_model``.

    Returns
    -------
    SoftRhoResult
        ``rho[name]`` a :class:`SoftShearShearResult` with ``xip``, ``xim`` (and ``dxip``, ``dxim``).
    """
    alpha = _rho_checked(stars, bins, alpha, kind)
    tan, P = _check_tangents(tangents, len(stars), RHO_INPUTS)
    fields, dfields = _rho_fields(stars, tan, P)
    dxyz = _dxyz(stars.ra, stars.dec, tan, P)
    out = {}
    for name in RHO_FIELDS:
        r = _rho_pass(stars, name, fields, dfields, dxyz, tan.get("w"), bins, alpha, kind, jvp=P > 0)
        s, ds = r["sums"], r.get("dsums")
        xip, dxip = _ratio_jvp(s[0], s[2], None if ds is None else ds[0], None if ds is None else ds[2])
        xim, dxim = _ratio_jvp(s[1], s[2], None if ds is None else ds[1], None if ds is None else ds[2])
        out[name] = SoftShearShearResult(bins, xip, xim, s[2].copy(), dxip, dxim, alpha, kind)
    return SoftRhoResult(bins, out)


def soft_rho_vjp(stars, bins, cotangents, alpha=1.0, kind="sigmoid"):
    """VJP of the soft rho statistics: dL/d(per-star input) for L = sum over the rho statistics
    named in ``cotangents`` of sum_k c+_k rho_k+ + c-_k rho_k-.

    Parameters
    ----------
    stars : StarCatalog
    bins : Bins
    cotangents : dict
        ``{"rho1": (c_xip, c_xim), ...}`` (any subset; ``c_xim`` may be None).
    alpha, kind :
        As :func:`soft_shear_shear`.

    Returns
    -------
    dict
        One array (N,) per name of ``RHO_INPUTS``.
    """
    alpha = _rho_checked(stars, bins, alpha, kind)
    if not isinstance(cotangents, dict) or not set(cotangents) <= set(RHO_FIELDS):
        raise ValueError(f"cotangents must be a dict with keys among {list(RHO_FIELDS)}")
    fields, dfields = _rho_fields(stars, {}, 0)
    n = len(stars)
    gxyz, gw = np.zeros((3, n)), np.zeros(n)
    gf = {k: np.zeros(n, complex) for k in fields}
    w = stars.w
    for name, c in cotangents.items():
        if not isinstance(c, (tuple, list)) or len(c) != 2:
            raise ValueError(f"cotangents[{name!r}] must be a pair (c_xip, c_xim)")
        cp = _check_cotangent(c[0], bins.nbins, f"cotangents[{name!r}][0]")
        cm = _check_cotangent(c[1], bins.nbins, f"cotangents[{name!r}][1]", required=False)
        sums = _rho_pass(stars, name, fields, dfields, None, None, bins, alpha, kind)["sums"]
        r = _rho_pass(stars, name, fields, dfields, None, None, bins, alpha, kind,
                      cot=_shear_cotangent(sums, cp, cm))
        a, b = RHO_FIELDS[name]
        sides = [(a, r["grad_a"])] if a == b else [(a, r["grad_a"]), (b, r["grad_b"])]
        for fname, g in sides:
            gxyz += g["xyz"]
            gw += g["w"] + g["H"][0] * fields[fname].real + g["H"][1] * fields[fname].imag
            gf[fname] += w * (g["H"][0] + 1j * g["H"][1])
    e = fields["e"]
    Ts, Tm = stars.T_star, stars.T_model
    dtt = (Ts - Tm) / Ts
    g_e = gf["e"] + gf["de"] + gf["edt"] * dtt
    g_dtt = gf["edt"].real * e.real + gf["edt"].imag * e.imag
    gra, gdec = _pos_grad(stars.ra, stars.dec, gxyz)
    return {"ra": gra, "dec": gdec, "w": gw, "g1_star": g_e.real, "g2_star": g_e.imag,
            "T_star": g_dtt * Tm / Ts**2, "g1_model": -gf["de"].real, "g2_model": -gf["de"].imag,
            "T_model": -g_dtt / Ts}
