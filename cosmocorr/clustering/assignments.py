"""Assignments of objects to clusters from fuzzy memberships (paper eq. 19, fig. 9).

Sampled assignments M_i ~ Categorical(U_i) give Algorithm 1 its epistemic spread; the greedy
(argmax) one is deterministic. The maximum membership and the membership entropy describe how
sure each assignment is.
"""
from __future__ import annotations

import numpy as np

__all__ = ["sample_assignments", "greedy_assignments", "max_membership", "membership_entropy"]


def sample_assignments(U, rng, n_samples=None):
    """Draw M_i ~ Categorical(U_i) for every object (paper eq. 19), vectorised.

    Returns int array (N,) or, with ``n_samples``, (n_samples, N).
    """
    U = np.asarray(U, dtype=float)
    cum = np.cumsum(U, axis=1)
    cum[:, -1] = np.inf  # guard against rounding: the last category closes the interval
    shape = (U.shape[0],) if n_samples is None else (n_samples, U.shape[0])
    u = rng.random(shape)
    return (u[..., None] >= cum).sum(axis=-1)


def greedy_assignments(U):
    """Deterministic assignment to the most probable cluster (argmax of each row of U)."""
    return np.argmax(np.asarray(U), axis=1)


def max_membership(U):
    """Per-object maximum membership probability (paper fig. 9, left)."""
    return np.max(np.asarray(U), axis=1)


def membership_entropy(U):
    """Per-object Shannon entropy of the membership distribution, in nats (paper fig. 9, right)."""
    U = np.asarray(U, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(U > 0, U * np.log(U), 0.0)
    return -t.sum(axis=1)
