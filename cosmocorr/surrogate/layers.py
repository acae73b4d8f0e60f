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
    """BatchNorm1d in eval mode (running statistics). Works on (B, F) and (B, C, L) (per channel C)."""
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    if v.ndim == 3:
        scale, shift = scale[:, None], shift[:, None]
    return v * scale + shift, (None if t is None else t * scale)


def dropout(v, t, mask):
    """Inverted dropout with a fixed keep-mask already divided by the keep probability."""
    if mask is None:
        return v, t
    return v * mask, (None if t is None else t * mask[:, None])


def _conv(x, weight, stride, padding):
    """Cross-correlation as torch.nn.Conv1d: x (B, Cin, L) -> (B, Cout, Lout)."""
    k = weight.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    if stride == 1:
        # a sum of k shifted (batched) matrix products: no im2col copy
        lout = xp.shape[2] - k + 1
        out = weight[:, :, 0] @ xp[:, :, 0:lout]
        for j in range(1, k):
            out += weight[:, :, j] @ xp[:, :, j:j + lout]
        return out
    win = np.lib.stride_tricks.sliding_window_view(xp, k, axis=2)[:, :, ::stride, :]  # (B, Cin, Lout, k)
    b, cin, lout, _ = win.shape
    cols = np.ascontiguousarray(win.transpose(0, 2, 1, 3)).reshape(b * lout, cin * k)  # im2col
    out = cols @ weight.reshape(weight.shape[0], cin * k).T
    return out.reshape(b, lout, -1).transpose(0, 2, 1)


def conv1d(v, t, weight, bias, stride=1, padding=1):
    out = _conv(v, weight, stride, padding) + bias[:, None]
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
