"""TreeCorr's ball tree as the pair-sum engine of ``method="tree"`` (the one module that calls TreeCorr).

The exact kernels (:mod:`.numpy_kernels`, the Julia bridge) visit every pair. A tree groups
objects into cells and lets a pair of cells stand for all its pairs whenever the cells are small
enough that every pair would fall in the same separation bin, up to ``bin_slop`` bin widths, and
that the projection angle of every pair is within ``angle_slop`` radians of that of the cell
centres (Jarvis et al. 2004; TreeCorr's documentation of ``bin_slop`` and ``angle_slop``). The
cell pair's contribution is then computed from the cells' summed weights ``w`` and weighted
fields ``w g`` at their centres: the same sums as paper eq. 8 (numerator and denominator), with
each pair's separation and projection replaced by those of its cells. With ``bin_slop=0`` and
``angle_slop=0`` every pair is taken at its own separation and angle: the estimate is the exact
one, up to TreeCorr storing cell weights and fields in single precision (~1e-7 relative).

TreeCorr (>= 5.0, a runtime dependency of cosmocorr since ``method="tree"`` is a core feature) is
used as it is: ``metric="Arc"`` (great-circle separations, as the exact kernels),
``sep_units="arcmin"``, ``bin_type`` ``"Linear"`` or ``"Log"`` from :class:`cosmocorr.sky.Bins`,
and its own patch handling (catalogs built with the same ``patch=`` labels as the exact path, so
each patch pair's sums come from TreeCorr's ``results``). Sums are read *before* TreeCorr's
``finalize``, i.e. as raw sums over pairs, and converted to cosmocorr's units: ``wr`` = sum
w_i w_j r in arcmin and ``wlogr`` = sum w_i w_j ln(r / arcmin) (TreeCorr accumulates them in
radians).

Pairs at separation exactly 0 (an object with itself when a field is correlated with another
field at the same positions, or duplicated positions) are never counted, as in the exact path:
with ``min_sep == 0`` TreeCorr is given the lower edge :data:`ZERO_SEP` arcmin instead, which
changes no bin edge and no bin index of any pair at a positive separation representable in double
precision (``r - ZERO_SEP == r``), but makes TreeCorr drop the zero-separation pairs that its cross
correlations would otherwise put in the first bin.

Correlation types are described by :class:`TreeKind` entries of :data:`KINDS` (which TreeCorr
class, which field each catalog carries, which raw arrays are the correlation's own sums);
:func:`register_kind` adds one.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .._parallel import n_threads
from .._warnings import emit_warning
from ..sky.geometry import ARCMIN

__all__ = ["TreeKind", "KINDS", "register_kind", "tree_catalog", "make_correlation", "run", "total_sums",
           "patch_sums", "settings_used", "ZERO_SEP", "TREECORR_MIN_VERSION", "treecorr_module"]

#: lower bin edge (arcmin) given to TreeCorr for ``min_sep == 0`` (see the module docstring)
ZERO_SEP = 1e-140
TREECORR_MIN_VERSION = (5, 0)


@dataclass(frozen=True)
class TreeKind:
    """One TreeCorr correlation type.

    Attributes
    ----------
    cls : str
        TreeCorr class name (``"GGCorrelation"``).
    letters : tuple of str
        The field each of the two catalogs carries: ``"N"`` (positions only), ``"G"`` (a spin-2
        field, complex: g1 + i g2) or ``"K"`` (a real scalar).
    sums : tuple of (str, str)
        ``(cosmocorr key, TreeCorr attribute)`` of the correlation's own raw sums (besides
        ``npairs``, ``weight``, ``wr``, ``wlogr``), e.g. ``("xip", "xip")``.
    zeros : tuple of str
        Keys the exact path's sums have but TreeCorr's class does not (e.g. ``"xi_im"`` of a
        scalar correlation): filled with zeros.
    auto_zeros : tuple of str
        Keys that are 0 by symmetry in an auto-correlation of one field (``"xip_im"``: Im g_i g_j*
        is odd under exchanging the pair), set to 0 there as on the exact path.
    """

    cls: str
    letters: tuple
    sums: tuple
    zeros: tuple = ()
    auto_zeros: tuple = ()


#: the correlation types the tree engine runs (``"GG"``: xi+/xi-; ``"NN"``: pair counts)
KINDS = {
    "NN": TreeKind("NNCorrelation", ("N", "N"), ()),
    "GG": TreeKind("GGCorrelation", ("G", "G"),
                   (("xip", "xip"), ("xip_im", "xip_im"), ("xim", "xim"), ("xim_im", "xim_im")),
                   auto_zeros=("xip_im",)),
}


def register_kind(name, cls, letters, sums, zeros=(), auto_zeros=()):
    """Add a correlation type to :data:`KINDS`, e.g. ``register_kind("NK", "NKCorrelation",
    ("N", "K"), (("xi", "xi"),), zeros=("xi_im",))``. Returns the :class:`TreeKind`."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    letters = tuple(letters)
    if len(letters) != 2 or any(x not in ("N", "G", "K") for x in letters):
        raise ValueError(f"letters must be two of 'N', 'G', 'K', got {letters!r}")
    kind = TreeKind(str(cls), letters, tuple((str(a), str(b)) for a, b in sums), tuple(zeros), tuple(auto_zeros))
    KINDS[name] = kind
    return kind


class _Collect(logging.Handler):
    """Keeps TreeCorr's warnings (e.g. slop values it considers too large), which would otherwise
    be lines on stdout, to be re-emitted as cosmocorr warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(" ".join(record.getMessage().split()))


def _treecorr_logger(handler):
    """A logger for one TreeCorr object: warnings to ``handler``, nothing else shown."""
    log = logging.getLogger("cosmocorr.treecorr")
    log.propagate = False
    log.setLevel(logging.WARNING)
    for h in list(log.handlers):
        log.removeHandler(h)
    log.addHandler(handler)
    return log


def treecorr_module():
    """The imported ``treecorr`` package, checked to be at least :data:`TREECORR_MIN_VERSION`."""
    import treecorr

    version = tuple(int(x) for x in treecorr.__version__.split(".")[:2])
    if version < TREECORR_MIN_VERSION:
        raise ImportError(f"method='tree' needs treecorr >= {'.'.join(map(str, TREECORR_MIN_VERSION))} "
                          f"(it has angle_slop); found {treecorr.__version__}. pip install -U treecorr")
    return treecorr


def tree_catalog(ra, dec, w, *, letter="N", field=None, patch=None):
    """A ``treecorr.Catalog`` of the given objects (degrees), every object kept.

    Parameters
    ----------
    ra, dec, w : ndarray
        Positions (degrees) and weights; zero weights are kept (cosmocorr's Catalog already
        decided which objects to keep).
    letter : {"N", "G", "K"}
        Which field the catalog carries.
    field : ndarray, optional
        ``"G"``: complex g1 + i g2; ``"K"``: real values.
    patch : ndarray of int, optional
        Patch labels (TreeCorr's ``patch=``).

    Returns
    -------
    treecorr.Catalog
    """
    treecorr = treecorr_module()
    kw = dict(ra=np.asarray(ra, float), dec=np.asarray(dec, float), w=np.asarray(w, float), ra_units="deg",
              dec_units="deg", keep_zero_weight=True)
    if letter == "G":
        z = np.asarray(field, dtype=complex)
        kw.update(g1=z.real.copy(), g2=z.imag.copy())
    elif letter == "K":
        kw.update(k=np.asarray(field, dtype=float))
    if patch is not None:
        kw["patch"] = np.asarray(patch, dtype=np.int64)
    return treecorr.Catalog(**kw)


def make_correlation(kind, min_sep, max_sep, nbins, log, *, bin_slop=None, angle_slop=None, quiet=False):
    """The TreeCorr correlation object of ``kind`` (a :data:`KINDS` key) for cosmocorr's bins.

    ``log``: TreeCorr ``bin_type="Log"`` (else ``"Linear"``). ``bin_slop=None`` and
    ``angle_slop=None`` mean TreeCorr's defaults (``bin_slop`` such that ``bin_slop * bin_size
    <= 0.1``, at most 1; ``angle_slop=0.1``). TreeCorr's warnings (slops it finds too large)
    become cosmocorr warnings, unless ``quiet``.
    """
    treecorr = treecorr_module()
    spec = KINDS[kind]
    config = dict(min_sep=float(min_sep) if min_sep > 0 else ZERO_SEP, max_sep=float(max_sep), nbins=int(nbins),
                  bin_type="Log" if log else "Linear", sep_units="arcmin", metric="Arc")
    if bin_slop is not None:
        config["bin_slop"] = float(bin_slop)
    if angle_slop is not None:
        config["angle_slop"] = float(angle_slop)
    collect = _Collect()
    corr = getattr(treecorr, spec.cls)(**config, logger=_treecorr_logger(collect))
    if not quiet:
        for message in collect.messages:
            emit_warning("TreeCorr: " + message)
    return corr


def run(corr, cat1, cat2=None, num_threads=None):
    """``corr.process(cat1[, cat2])`` without finalizing (the sums stay raw); returns ``corr``.

    Auto-correlation (``cat2`` None): each unordered pair once, no self pairs; cross: every pair
    (i in 1, j in 2). With patches TreeCorr also keeps each patch pair's raw sums (``results``).
    """
    threads = n_threads(num_threads)
    if cat2 is None:
        corr.process(cat1, num_threads=threads, finalize=False)
    else:
        corr.process(cat1, cat2, num_threads=threads, finalize=False)
    return corr


def _raw(corr, kind):
    """The raw sums of one (unfinalized) TreeCorr object in cosmocorr's keys and units."""
    weight = np.array(corr.weight, dtype=float)
    out = {
        "npairs": np.array(corr.npairs, dtype=float),
        "weight": weight,
        # TreeCorr sums w w r and w w ln r with r in radians (Arc metric)
        "wr": np.asarray(corr.meanr, dtype=float) / ARCMIN,
        "wlogr": np.asarray(corr.meanlogr, dtype=float) - weight * math.log(ARCMIN),
    }
    spec = KINDS[kind]
    for key, attr in spec.sums:
        out[key] = np.array(getattr(corr, attr), dtype=float)
    for key in spec.zeros:
        out[key] = np.zeros_like(weight)
    return out


def total_sums(corr, kind):
    """All-pairs sums of a processed (unfinalized) correlation: dict of (nbins,) arrays with keys
    ``npairs``, ``weight``, ``wr`` (arcmin), ``wlogr`` (ln arcmin) and the kind's own sums."""
    return _raw(corr, kind)


def patch_sums(corr, kind, npatch1, npatch2=None):
    """Per-patch-pair sums of a processed correlation.

    Returns
    -------
    sums : dict of ndarray (npatch1, npatch2, nbins)
        The raw sums of the pairs with one object in patch p (first catalog) and one in q,
        as :func:`total_sums`; zero where TreeCorr kept no result.
    ok : bool ndarray (npatch1, npatch2)
        The patch pairs in TreeCorr's ``results`` (its ``_ok`` matrix; what its covariance
        methods select among).
    """
    npatch2 = npatch1 if npatch2 is None else npatch2
    nbins = len(corr.rnom)
    spec = KINDS[kind]
    keys = ("npairs", "weight", "wr", "wlogr") + tuple(k for k, _ in spec.sums) + spec.zeros
    sums = {k: np.zeros((npatch1, npatch2, nbins)) for k in keys}
    ok = np.zeros((npatch1, npatch2), dtype=bool)
    for (p, q), res in corr.results.items():
        ok[p, q] = True
        for k, v in _raw(res, kind).items():
            sums[k][p, q] = v
    return sums, ok


def settings_used(corr):
    """The slop values TreeCorr used (its defaults resolved): ``{"bin_slop", "angle_slop"}``."""
    return {"bin_slop": float(corr.bin_slop), "angle_slop": float(corr.angle_slop)}
