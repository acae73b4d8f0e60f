"""Result files: FITS, ASCII and JSON with TreeCorr's column names and header, and provenance.

Every result class (:class:`~cosmocorr.ShearShearResult`, :class:`~cosmocorr.LandySzalayResult`,
:class:`~cosmocorr.RhoResult`, the clustered results of Algorithm 1 and
:class:`~cosmocorr.UncertaintyResult`) inherits :class:`ResultIO` and so has ``write(path)``,
``read(path)`` (a classmethod) and ``to_table()``; they delegate to :func:`write_result`,
:func:`read_result` and :func:`result_table` here.

- A shear-shear block has TreeCorr's ``GGCorrelation`` columns (``r_nom meanr meanlogr xip xim
  xip_im xim_im sigma_xip sigma_xim weight npairs``) and header (``min_sep max_sep nbins bin_type
  sep_units brute metric coords corr``), so ``treecorr.GGCorrelation.from_file(path)`` reads it
  back (FITS needs ``fitsio``, TreeCorr's FITS reader). A Landy-Szalay block has
  ``NNCorrelation``'s (``xi sigma_xi DD RR DR npairs``, ``tot``). Separations are in arcmin.
- Every other field of the result (per-sample values, epistemic/aleatoric sigmas, covariances,
  the clustering, settings) is stored too — one-dimensional per-bin arrays as further columns,
  other arrays as further extensions (FITS) or blocks (ASCII) — so that ``read`` gives back an
  equal object.
- Provenance (:func:`provenance`): package version, backend, input file and its sha256, column
  map, seeds, units and command line, in the header and in the file's metadata.

This layer sits beside :mod:`cosmocorr.backends` and imports only :mod:`cosmocorr.sky` and the
private helpers; result classes register themselves here by subclassing :class:`ResultIO`.
"""
from .provenance import file_sha256, provenance
from .results import ResultIO, read, read_result, result_table, to_json_dict, write_result

__all__ = ["ResultIO", "write_result", "read_result", "read", "result_table", "to_json_dict", "provenance",
           "file_sha256"]
