"""Provenance records for result files: what produced the numbers, from what, and how."""
from __future__ import annotations

import hashlib
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["provenance", "file_sha256", "package_version", "UNITS"]

#: units of the quantities cosmocorr writes (separations and bin edges in arcmin; correlations
#: dimensionless; positions in degrees)
UNITS = {"r_nom": "arcmin", "meanr": "arcmin", "meanlogr": "log(arcmin)", "min_sep": "arcmin",
         "max_sep": "arcmin", "centers": "deg", "xi": "dimensionless", "positions": "deg"}


def package_version():
    """The installed cosmocorr version (from the package metadata; no import of cosmocorr itself)."""
    try:
        from importlib.metadata import version

        return version("cosmocorr")
    except Exception:  # pragma: no cover - running from a source tree without metadata
        return "unknown"


def file_sha256(path, chunk=1 << 20):
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def provenance(*, backend=None, input=None, columns=None, seed=None, command=None, estimator=None,
               settings=None, **more):
    """A provenance record (dict of JSON-able values) for a result file.

    Parameters
    ----------
    backend : str, optional
        The backend that actually ran the pair sums (``"numpy"``/``"julia"``; the command line
        records :func:`cosmocorr.backends.resolve_backend` of its ``--backend``); ``"not
        recorded"`` when None.
    input : str, Path or list of them, optional
        Input file(s); each is recorded with its absolute path and sha256.
    columns : dict, optional
        Column map: argument name -> column name in the input file.
    seed : int, optional
        The seed of every random step.
    command : list of str or str, optional
        The command line (default: ``sys.argv`` when it is a ``cosmocorr`` command).
    estimator : str, optional
        What was computed (e.g. ``"rho_statistics (Algorithm 1, 50 clusters)"``).
    settings : dict, optional
        Further settings (n_clusters, n_samples, ...).
    """
    if backend is None:
        backend = "not recorded"
    rec = {
        "package": "cosmocorr",
        "version": package_version(),
        "backend": backend,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "units": {"separation": "arcmin", "positions": "deg", "correlations": "dimensionless"},
    }
    if estimator is not None:
        rec["estimator"] = str(estimator)
    if input is not None:
        items = input if isinstance(input, (list, tuple)) else [input]
        rec["input"] = []
        for item in items:
            p = Path(item)
            entry = {"path": str(p.resolve())}
            if p.is_file():
                entry["sha256"] = file_sha256(p)
            rec["input"].append(entry)
    if columns is not None:
        rec["columns"] = {str(k): v for k, v in dict(columns).items()}
    if seed is not None:
        rec["seed"] = seed
    if command is None and sys.argv and Path(sys.argv[0]).name.startswith("cosmocorr"):
        command = ["cosmocorr", *sys.argv[1:]]
    if command is not None:
        rec["command"] = command if isinstance(command, str) else " ".join(str(c) for c in command)
    if settings:
        rec["settings"] = dict(settings)
    rec.update(more)
    return rec
