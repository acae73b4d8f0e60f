"""Network layers on (value, tangent) pairs, in NumPy.

Each function maps a value ``v`` of shape (B, ...) and, optionally, tangents ``t`` of shape
(B, D, ...) (D input directions) to the layer's output and its tangents, using the layer's
exact derivative: forward-mode differentiation, layer by layer, with no finite differences.
The output tangents for the D = n_inputs unit directions are the network's input Jacobian.
"""
from __future__ import annotations

import numpy as np

__all__ = ["linear", "leaky_relu", "batchnorm_eval", "dropout", "conv1d", "softplus"]


def linear(v, t, weight, bias):
    out = v @ weight.T + bias
    return out, (None if t is None else t @ weight.T)


def leaky_relu(v, t, slope=0.01):
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
    out = np.logaddexp(0.0, v)
    if t is None:
        return out, None
    sig = 0.5 * (1.0 + np.tanh(0.5 * v))
    return out, t * sig[:, None]
