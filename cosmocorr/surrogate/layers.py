"""Network layers on (value, tangent) pairs, in NumPy (the IAEmu architecture of paper sec. 7).

Each function maps a value ``v`` of shape (B, ...) and, optionally, tangents ``t`` of shape
(B, D, ...) (D input directions) to the layer's output and its tangents, using the layer's
exact derivative: forward-mode differentiation, layer by layer, with no finite differences.
The output tangents for the D = n_inputs unit directions are the network's input Jacobian.
"""
from __future__ import annotations

import weakref

import numpy as np

__all__ = ["linear", "leaky_relu", "batchnorm_eval", "dropout", "conv1d", "softplus", "conv1d_input_grad", "conv3_padded"]


def linear(v, t, weight, bias):
    """Affine layer ``v @ weight.T + bias`` and its tangent; returns (value, tangent)."""
    out = v @ weight.T + bias
    return out, (None if t is None else t @ weight.T)


def leaky_relu(v, t, slope=0.01):
    """Leaky ReLU of value ``v`` and tangent ``t``; returns (value, tangent)."""
    s = np.where(v > 0, 1.0, slope)
    return v * s, (None if t is None else t * s[:, None])


def batchnorm_eval(v, t, gamma, beta, mean, var, eps=1e-5):
    """BatchNorm1d in eval mode (running statistics), features/channels on the last axis."""
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    return v * scale + shift, (None if t is None else t * scale)


def dropout(v, t, mask):
    """Inverted dropout with a fixed keep-mask already divided by the keep probability."""
    if mask is None:
        return v, t
    return v * mask, (None if t is None else t * mask[:, None])


def _conv(x, weight, stride, padding):
    """Cross-correlation as torch.nn.Conv1d, channels-last: x (B, L, Cin) -> (B, Lout, Cout).

    im2col by concatenating the k shifted (contiguous) slices, then one matrix product.
    """
    cout, cin, k = weight.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (0, 0)))
    lout = (xp.shape[1] - k) // stride + 1
    cols = np.concatenate([xp[:, j:j + stride * (lout - 1) + 1:stride, :] for j in range(k)], axis=2)
    w = weight.transpose(2, 1, 0).reshape(k * cin, cout)   # rows ordered (j, ci) like cols
    return (cols.reshape(-1, k * cin) @ w).reshape(x.shape[0], lout, cout)


def conv1d(v, t, weight, bias, stride=1, padding=1):
    """Conv1d on channels-last values (B, L, C) and tangents (B, D, L, C)."""
    out = _conv(v, weight, stride, padding) + bias
    if t is None:
        return out, None
    b, d = t.shape[:2]
    tt = _conv(t.reshape(b * d, *t.shape[2:]), weight, stride, padding)
    return out, tt.reshape(b, d, *tt.shape[1:])


def softplus(v, t):
    """Softplus log(1 + e^v) of value ``v`` and tangent ``t``; returns (value, tangent)."""
    out = np.logaddexp(0.0, v)
    if t is None:
        return out, None
    sig = 0.5 * (1.0 + np.tanh(0.5 * v))
    return out, t * sig[:, None]


_DERIVED = {}


def _derived(weight, kind):
    """A contiguous re-layout of a conv weight, computed once per weight array."""
    key = (id(weight), kind)
    hit = _DERIVED.get(key)
    if hit is not None and hit[0]() is weight:
        return hit[1]
    cout, cin, k = weight.shape
    if kind == "taps":            # (k, Cin, Cout): one matrix per tap
        out = np.ascontiguousarray(weight.transpose(2, 1, 0))
    else:                         # "cols_t": (Cout, k * Cin), rows ordered (j, ci) like im2col
        out = np.ascontiguousarray(weight.transpose(0, 2, 1).reshape(cout, k * cin))
    _DERIVED[key] = (weakref.ref(weight), out)
    return out


def conv1d_input_grad(g, weight, stride, padding, length):
    """Backpropagation through :func:`_conv`: d loss / d x for output cotangents g (..., Lout, Cout),
    x channels-last of the given ``length``; the transposed convolution by col2im."""
    cout, cin, k = weight.shape
    lout = g.shape[-2]
    dcols = g @ _derived(weight, "cols_t")                       # (..., Lout, k * cin)
    dxp = np.zeros(g.shape[:-2] + (length + 2 * padding, cin), dtype=g.dtype)
    for j in range(k):
        dxp[..., j:j + stride * (lout - 1) + 1:stride, :] += dcols[..., j * cin:(j + 1) * cin]
    return dxp[..., padding:padding + length, :]


def conv3_padded(xp, weight, bias):
    """Conv1d (k=3, stride 1, padding 1) on a zero-padded channels-last layout.

    ``xp`` is (B, L + 2, Cin) with zero first and last rows; returns the pre-activation in the same
    padded layout (B, L + 2, Cout), pad rows zero. The three taps are three matrix products on
    shifted contiguous views of the flattened input (no im2col copy).
    """
    b, lp, cin = xp.shape
    cout = weight.shape[0]
    x = xp.reshape(-1, cin)
    w = _derived(weight, "taps")                                 # (3, Cin, Cout)
    y = np.empty((x.shape[0], cout), dtype=xp.dtype)
    np.matmul(x[:-2], w[0], out=y[1:-1])
    y[1:-1] += x[1:-1] @ w[1]
    y[1:-1] += x[2:] @ w[2]
    y[1:-1] += bias
    y = y.reshape(b, lp, cout)
    y[:, 0] = 0
    y[:, -1] = 0
    return y
