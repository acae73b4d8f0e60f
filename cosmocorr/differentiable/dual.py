"""Dual numbers for forward-mode differentiation with NumPy arrays (paper sec. 6, Algorithm 2;
as ForwardDiff does in Julia).

A :class:`Dual` carries a value ``v`` and a tangent ``d`` (the derivative of the value with
respect to one scalar parameter, e.g. the gravitational constant G) through the same code:
every operation applies its exact derivative rule. No finite differences anywhere.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Dual", "value", "tangent", "sqrt", "exp", "log", "arctan2", "expit", "where", "stack"]


def _d(x):
    return x.d if isinstance(x, Dual) else 0.0


def value(x):
    """The value of a dual (a plain array as it is)."""
    return x.v if isinstance(x, Dual) else np.asarray(x)


def tangent(x):
    """The tangent of a dual (zeros for a plain array)."""
    return x.d if isinstance(x, Dual) else np.zeros_like(np.asarray(x, dtype=float))


class Dual:
    """Value ``v`` and tangent ``d`` (arrays of the same shape)."""

    __array_priority__ = 100

    def __init__(self, v, d=None):
        self.v = np.asarray(v, dtype=float)
        self.d = np.zeros_like(self.v) if d is None else np.broadcast_to(np.asarray(d, dtype=float), self.v.shape)

    # arithmetic ------------------------------------------------------------
    def __add__(self, o):
        return Dual(self.v + value(o), self.d + _d(o))

    __radd__ = __add__

    def __sub__(self, o):
        return Dual(self.v - value(o), self.d - _d(o))

    def __rsub__(self, o):
        return Dual(value(o) - self.v, _d(o) - self.d)

    def __mul__(self, o):
        ov = value(o)
        return Dual(self.v * ov, self.d * ov + self.v * _d(o))

    __rmul__ = __mul__

    def __truediv__(self, o):
        # (d - q d_o) / o rather than (d o - v d_o) / o^2: no underflow of o^2 for tiny o
        ov = value(o)
        q = self.v / ov
        return Dual(q, (self.d - q * _d(o)) / ov)

    def __rtruediv__(self, o):
        q = value(o) / self.v
        return Dual(q, (_d(o) - q * self.d) / self.v)

    def __neg__(self):
        return Dual(-self.v, -self.d)

    def __pow__(self, p):
        if isinstance(p, Dual):
            raise TypeError("Dual ** Dual is not needed here")
        return Dual(self.v**p, p * self.v ** (p - 1) * self.d)

    # array protocol --------------------------------------------------------
    def __getitem__(self, idx):
        return Dual(self.v[idx], self.d[idx])

    @property
    def shape(self):
        """Shape of the value (and of the tangent)."""
        return self.v.shape

    @property
    def T(self):
        """Transpose of value and tangent."""
        return Dual(self.v.T, self.d.T)

    def reshape(self, *shape):
        """Value and tangent reshaped alike."""
        return Dual(self.v.reshape(*shape), self.d.reshape(*shape))

    def sum(self, axis=None, keepdims=False):
        """Sum of value and tangent over ``axis`` (a linear map, so the tangent sums too)."""
        return Dual(self.v.sum(axis=axis, keepdims=keepdims), self.d.sum(axis=axis, keepdims=keepdims))

    def __matmul__(self, o):
        ov = value(o)
        return Dual(self.v @ ov, self.d @ ov + (self.v @ _d(o) if isinstance(o, Dual) else 0.0))

    def __rmatmul__(self, o):
        return Dual(np.asarray(o) @ self.v, np.asarray(o) @ self.d)

    def __repr__(self):
        return f"Dual(v={self.v!r}, d={self.d!r})"


def sqrt(x):
    """sqrt(x) of a dual or array: d sqrt(x) = dx / (2 sqrt(x))."""
    if not isinstance(x, Dual):
        return np.sqrt(x)
    s = np.sqrt(x.v)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(s > 0, x.d / (2 * np.where(s > 0, s, 1.0)), 0.0)
    return Dual(s, d)


def exp(x):
    """exp(x) of a dual or array: d exp(x) = exp(x) dx."""
    if not isinstance(x, Dual):
        return np.exp(x)
    e = np.exp(x.v)
    return Dual(e, e * x.d)


def log(x):
    """log(x) of a dual or array: d log(x) = dx / x."""
    if not isinstance(x, Dual):
        return np.log(x)
    return Dual(np.log(x.v), x.d / x.v)


def expit(x):
    """The logistic sigmoid, stable for large ``|x|``."""
    from scipy.special import expit as _expit

    if not isinstance(x, Dual):
        return _expit(np.asarray(x, dtype=float))
    s = _expit(x.v)
    return Dual(s, s * _expit(-x.v) * x.d)


def arctan2(y, x):
    """atan2(y, x) of duals: d atan2 = (x dy - y dx) / (x^2 + y^2)."""
    yv, xv = value(y), value(x)
    r2 = xv * xv + yv * yv
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(r2 > 0, (xv * _d(y) - yv * _d(x)) / np.where(r2 > 0, r2, 1.0), 0.0)
    return Dual(np.arctan2(yv, xv), d)


def where(cond, a, b):
    """``np.where`` on value and tangent alike (piecewise: the derivative of the branch taken)."""
    return Dual(np.where(cond, value(a), value(b)), np.where(cond, tangent(a) if isinstance(a, Dual) else 0.0,
                                                             tangent(b) if isinstance(b, Dual) else 0.0))


def stack(items, axis=0):
    """``np.stack`` of duals or arrays (arrays get a zero tangent)."""
    return Dual(np.stack([value(i) for i in items], axis), np.stack([tangent(i) for i in items], axis))
