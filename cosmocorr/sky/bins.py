"""Angular separation bins with TreeCorr's conventions (the hard bins of paper eqs. 1 and 8; the
paper's figures use 8 linear bins from 0 to 45 arcmin)."""
from __future__ import annotations

import numbers

import numpy as np

from .._validate import check_choice, check_positive_int

__all__ = ["Bins"]


#: the most bins a binning may have (the pair kernels hold per-row sums for every bin: ~1 GB at 1e5)
MAX_NBINS = 100_000


class Bins:
    """Separation bins in arcminutes, following TreeCorr's edge conventions.

    A pair at separation ``r`` belongs to bin ``k`` when ``edges[k] <= r < edges[k+1]``;
    pairs with ``r < min_sep`` or ``r >= max_sep`` are not counted, and neither are pairs at
    separation exactly 0 (an object with itself, or duplicated positions), as TreeCorr does for
    auto-correlations.

    Parameters
    ----------
    min_sep, max_sep : float
        Smallest and largest separation (arcmin); ``min_sep < max_sep``.
    nbins : int
        Number of bins, at least 1.
    spacing : {"linear", "log"}
        ``"linear"``: equal widths ``(max_sep - min_sep) / nbins`` (TreeCorr ``bin_type="Linear"``);
        ``"log"``: equal widths in ``ln r`` (TreeCorr ``bin_type="Log"``), requires ``min_sep > 0``.

    Attributes
    ----------
    edges : ndarray (nbins + 1,)
    rnom : ndarray (nbins,)
        Nominal bin centres: arithmetic (linear) or geometric (log) means of the edges,
        as TreeCorr's ``rnom``.
    bin_size : float
        Width in arcmin (linear) or in ``ln r`` (log).
    """

    def __init__(self, min_sep, max_sep, nbins, spacing="linear"):
        for name, v in (("min_sep", min_sep), ("max_sep", max_sep)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name} must be a number, got {type(v).__name__}")
            if not np.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v}")
        self.nbins = check_positive_int(nbins, "nbins")
        if self.nbins > MAX_NBINS:
            raise ValueError(f"nbins={self.nbins} exceeds {MAX_NBINS:,}: the pair kernels keep per-row partial sums "
                             "for every bin (~1 GB at 100,000 bins), so more bins cannot work; use fewer bins")
        self.spacing = check_choice(spacing, "spacing", ("linear", "log"))
        self.min_sep = float(min_sep)
        self.max_sep = float(max_sep)
        if self.min_sep < 0:
            raise ValueError(f"min_sep must be >= 0, got {self.min_sep}")
        if self.min_sep >= self.max_sep:
            raise ValueError(f"min_sep ({self.min_sep}) must be smaller than max_sep ({self.max_sep})")
        if self.spacing == "log":
            if self.min_sep <= 0:
                raise ValueError("min_sep must be > 0 for spacing='log'")
            self.bin_size = np.log(self.max_sep / self.min_sep) / self.nbins
            self._logmin = np.log(self.min_sep)
            self.edges = np.exp(self._logmin + self.bin_size * np.arange(self.nbins + 1))
            self.edges[0], self.edges[-1] = self.min_sep, self.max_sep
            self.rnom = np.exp(self._logmin + self.bin_size * (np.arange(self.nbins) + 0.5))
        else:
            self.bin_size = (self.max_sep - self.min_sep) / self.nbins
            self.edges = self.min_sep + self.bin_size * np.arange(self.nbins + 1)
            self.edges[-1] = self.max_sep
            self.rnom = self.min_sep + self.bin_size * (np.arange(self.nbins) + 0.5)

    @classmethod
    def coerce(cls, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None):
        """Return ``bins`` if it is a :class:`Bins`, else build one from the keywords.

        ``spacing`` is required with ``min_sep``/``max_sep``/``nbins``: TreeCorr's same keywords
        give log bins by default and cosmocorr's used to give linear ones, so a silent default
        would be a trap either way; without it the error names both choices.

        Giving ``bins`` together with any of ``min_sep``, ``max_sep``, ``nbins`` or ``spacing``
        is a ValueError naming them: one of the two would otherwise be silently ignored.
        """
        if isinstance(bins, cls):
            given = [k for k, v in (("min_sep", min_sep), ("max_sep", max_sep), ("nbins", nbins),
                                    ("spacing", spacing)) if v is not None]
            if given:
                raise ValueError(f"bins and {', '.join(given)} were both given; give either bins=Bins(...) or "
                                 "min_sep, max_sep, nbins (and spacing), not both")
            return bins
        if bins is not None:
            raise TypeError(f"bins must be a cosmocorr.Bins, got {type(bins).__name__}")
        if min_sep is None or max_sep is None or nbins is None:
            raise TypeError("give either bins=Bins(...) or all of min_sep, max_sep and nbins")
        if spacing is None:
            raise ValueError(f"spacing: give spacing='log' (TreeCorr's default bin_type) or spacing='linear' with "
                             f"min_sep={min_sep}, max_sep={max_sep}, nbins={nbins}; it has no default (TreeCorr "
                             "defaults to log bins, cosmocorr 0.1.0 to linear), or pass bins=Bins(...)")
        return cls(min_sep, max_sep, nbins, spacing)

    def index(self, r):
        """Bin index of each separation ``r`` (arcmin).

        -1 where ``r`` is outside [min_sep, max_sep) or exactly 0 (coincident positions are never
        counted as a pair).
        """
        r = np.asarray(r, dtype=float)
        inside = (r >= self.min_sep) & (r < self.max_sep) & (r > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.spacing == "log":
                k = np.floor((np.log(np.where(inside, r, self.min_sep)) - self._logmin) / self.bin_size)
            else:
                k = np.floor((np.where(inside, r, self.min_sep) - self.min_sep) / self.bin_size)
        k = np.clip(k, 0, self.nbins - 1).astype(np.intp)
        return np.where(inside, k, -1)

    def __eq__(self, other):
        return (
            isinstance(other, Bins)
            and (self.min_sep, self.max_sep, self.nbins, self.spacing)
            == (other.min_sep, other.max_sep, other.nbins, other.spacing)
        )

    def __repr__(self):
        return f"Bins(min_sep={self.min_sep!r}, max_sep={self.max_sep!r}, nbins={self.nbins}, spacing={self.spacing!r})"

    def to_dict(self):
        """The bin settings as a dict (``min_sep``, ``max_sep``, ``nbins``, ``spacing``), as stored in result
        files."""
        return {"min_sep": self.min_sep, "max_sep": self.max_sep, "nbins": self.nbins, "spacing": self.spacing}
