"""The sky layer: where objects are and how they are binned (paper secs. 2, 4).

Owns great-circle geometry (Vincenty separations, eq. 16; unit vectors), separation bins with
TreeCorr's conventions, the object catalogs (:class:`Catalog`, :class:`StarCatalog`) and their
reading, and the built-in synthetic catalogs. Imports only the private helpers (and NumPy,
astropy): every other layer builds on this one.
"""
from .bins import Bins
from .catalog import Catalog
from .geometry import ARCMIN, DEG, separation, unit_vectors, vectors_to_radec
from .stars import StarCatalog

__all__ = ["Bins", "Catalog", "StarCatalog", "separation", "unit_vectors", "vectors_to_radec", "ARCMIN", "DEG"]
