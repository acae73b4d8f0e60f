"""Assignments of objects to clusters from fuzzy memberships (paper eq. 19, fig. 9).

Sampled assignments M_i ~ Categorical(U_i) give Algorithm 1 its epistemic spread; the greedy
(argmax) one is deterministic. The maximum membership and the membership entropy describe how
sure each assignment is.

Every function accepts U dense (N, c) or as a ``scipy.sparse`` matrix (the memberships of sparse
fuzzy c-means, ``fuzzy_c_means(..., neighbours=k)``): then only the stored entries are used, in
column order, which gives the same result as the dense matrix with zeros elsewhere.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["sample_assignments", "greedy_assignments", "max_membership", "membership_entropy"]


def sample_assignments(U, rng, n_samples=None):
    """Draw M_i ~ Categorical(U_i) for every object (paper eq. 19), vectorised.

    Returns int array (N,) or, with ``n_samples``, (n_samples, N).
    """
    if _is_sparse(U):
        cols, vals = _padded(U)
        cum = np.cumsum(vals, axis=1)
        last = np.diff(U.indptr) - 1                 # each row's last stored entry closes it
        cum[np.arange(cum.shape[0]), last] = np.inf
        shape = (U.shape[0],) if n_samples is None else (n_samples, U.shape[0])
        u = rng.random(shape)
        pos = (u[..., None] >= cum).sum(axis=-1)
        return np.take_along_axis(np.broadcast_to(cols, shape + cols.shape[1:]), pos[..., None], axis=-1)[..., 0]
    U = np.asarray(U, dtype=float)
    cum = np.cumsum(U, axis=1)
    cum[:, -1] = np.inf  # guard against rounding: the last category closes the interval
    shape = (U.shape[0],) if n_samples is None else (n_samples, U.shape[0])
    u = rng.random(shape)
    return (u[..., None] >= cum).sum(axis=-1)


def greedy_assignments(U):
    """Deterministic assignment to the most probable cluster (argmax of each row of U)."""
    if _is_sparse(U):
        cols, vals = _padded(U)
        return cols[np.arange(cols.shape[0]), np.argmax(vals, axis=1)]
    return np.argmax(np.asarray(U), axis=1)


def max_membership(U):
    """Per-object maximum membership probability (paper fig. 9, left)."""
    if _is_sparse(U):
        return _padded(U)[1].max(axis=1)
    return np.max(np.asarray(U), axis=1)


def membership_entropy(U):
    """Per-object Shannon entropy of the membership distribution, in nats (paper fig. 9, right)."""
    if _is_sparse(U):
        U = _padded(U)[1]
    U = np.asarray(U, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(U > 0, U * np.log(U), 0.0)
    return -t.sum(axis=1)


def _is_sparse(U):
    return sparse.issparse(U)


def _padded(U):
    """Stored entries of a sparse U as (N, kmax) column and value arrays, each row in column order;
    rows shorter than kmax are padded with their last column and value 0."""
    U = U.tocsr()
    if not U.has_sorted_indices:
        U = U.copy()
        U.sort_indices()
    lengths = np.diff(U.indptr)
    n = U.shape[0]
    if n and lengths.min() < 1:
        raise ValueError("U: every row of a sparse membership needs at least one stored entry")
    kmax = int(lengths.max()) if n else 0
    if n and np.all(lengths == kmax):
        return U.indices.reshape(n, kmax).astype(np.intp), U.data.reshape(n, kmax).astype(float)
    pos = np.arange(kmax)[None, :]
    take = np.minimum(U.indptr[:-1, None] + pos, U.indptr[1:, None] - 1)
    cols = U.indices[take].astype(np.intp)
    vals = np.where(pos < lengths[:, None], U.data[take], 0.0)
    return cols, vals
