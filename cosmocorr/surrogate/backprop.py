"""Hand-written backpropagation (reverse mode) through IAEmu (paper sec. 7, Algorithm 3 step 5).

:func:`forward` runs the eval-mode network (optionally with dropout masks) and keeps what the
backward pass needs: the LeakyReLU signs and the softplus inputs.
:func:`backward` pulls cotangents of the outputs, shape (B, K, n_out, 40) for K cotangents per
input, back to the inputs, shape (B, K, 7). One pass gives the gradient of any scalar of the
outputs (a log-likelihood, say); K = 40 per decoder gives the full Jacobian.
"""
from __future__ import annotations

import numpy as np

from .layers import conv1d_input_grad, conv3_padded

__all__ = ["forward", "backward"]

_SLOPE = 0.01
_CONVS = ("1", "2", "3", "4", "5", "6")
_BLOCKS = ("layer1", "layer2", "layer3", "layer4", "final_layer")


def _bn_scale_shift(p, prefix):
    scale = p[f"{prefix}.weight"] / np.sqrt(p[f"{prefix}.running_var"] + 1e-5)
    return scale, p[f"{prefix}.bias"] - p[f"{prefix}.running_mean"] * scale


def _lrelu_bn(pre, p, prefix):
    """LeakyReLU then eval BatchNorm; returns the output and the sign mask pre > 0."""
    scale, shift = _bn_scale_shift(p, prefix)
    out = np.maximum(pre, _SLOPE * pre)
    out *= scale
    out += shift
    return out, pre > 0


def _local_derivative(p, prefix, positive):
    """d (BatchNorm o LeakyReLU) / d pre from the saved sign mask."""
    scale, _ = _bn_scale_shift(p, prefix)
    return np.where(positive, scale, _SLOPE * scale)


def _block(p, name, v, mask):
    pre = v @ p[f"encoder.{name}.0.weight"].T + p[f"encoder.{name}.0.bias"]
    out, positive = _lrelu_bn(pre, p, f"encoder.{name}.2")
    d = _local_derivative(p, f"encoder.{name}.2", positive)
    if mask is not None:
        out, d = out * mask, d * mask
    return out, d


def forward(p, x, outputs=(0, 1, 2), masks=None):
    """Outputs (B, len(outputs), 40) and the cache for :func:`backward` (the encoder's local
    derivatives, the decoders' LeakyReLU sign masks and softplus inputs)."""
    m = masks or {}
    cache = {"outputs": tuple(outputs)}
    h1, cache["layer1"] = _block(p, "layer1", x, m.get("layer1"))
    h2, cache["layer2"] = _block(p, "layer2", h1, m.get("layer2"))
    a3, cache["layer3"] = _block(p, "layer3", h2, m.get("layer3"))
    h3 = a3 + h2 @ p["encoder.match_dim1.weight"].T + p["encoder.match_dim1.bias"]
    a4, cache["layer4"] = _block(p, "layer4", h3, m.get("layer4"))
    z, cache["final_layer"] = _block(p, "final_layer", a4 + h3, m.get("final_layer"))
    ys = []
    for d in outputs:
        name = f"decoder{d + 1}"
        pre = z @ p[f"{name}.initial_layer.weight"].T + p[f"{name}.initial_layer.bias"]
        v, positive = _lrelu_bn(pre, p, f"{name}.initial_bn")
        cache[f"{name}.initial"] = _local_derivative(p, f"{name}.initial_bn", positive)
        # torch's view (B, 7, 100), channels-last with one zero row either side (the conv padding)
        prev = np.zeros((v.shape[0], 102, 7), dtype=v.dtype)
        prev[:, 1:-1] = v.reshape(v.shape[0], 7, 100).transpose(0, 2, 1)
        for c in _CONVS:
            pre = conv3_padded(prev, p[f"{name}.conv{c}.weight"], p[f"{name}.conv{c}.bias"])
            out, positive = _lrelu_bn(pre, p, f"{name}.bn{c}")
            out[:, 0] = 0
            out[:, -1] = 0
            cache[f"{name}.conv{c}"] = positive[:, 1:-1]
            prev = out + prev if c in ("3", "6") else out
        # conv7: k=5, stride 5, padding 1 reads padded rows 5l .. 5l+4 for l = 0..19
        w7 = p[f"{name}.conv7.weight"]
        cols = prev[:, :100].reshape(prev.shape[0], 20, 5 * w7.shape[1])
        o = cols @ w7.transpose(2, 1, 0).reshape(-1, w7.shape[0]) + p[f"{name}.conv7.bias"]
        cache[f"{name}.softplus"] = o[..., 1]
        ys.append(np.concatenate([o[..., 0], np.logaddexp(0.0, o[..., 1])], axis=-1))
    return np.stack(ys, axis=1), cache


def _block_back(p, name, g, d):
    return (g * d[:, None]) @ p[f"encoder.{name}.0.weight"]


def backward(p, cache, g):
    """d (g . outputs) / d x: cotangents g (B, K, len(outputs), 40) -> (B, K, 7)."""
    gz = 0.0
    for q, d in enumerate(cache["outputs"]):
        name = f"decoder{d + 1}"
        gq = g[:, :, q]
        if not np.any(gq):
            continue
        o1 = cache[f"{name}.softplus"]
        sig = 0.5 * (1 + np.tanh(0.5 * o1))
        go = np.stack([gq[..., :20], gq[..., 20:] * sig[:, None]], axis=-1)      # (B, K, 20, 2)
        gh = conv1d_input_grad(go, p[f"{name}.conv7.weight"], 5, 1, 100)       # (B, K, 100, 112)
        for c in reversed(_CONVS):
            gpre = gh * _local_derivative(p, f"{name}.bn{c}", cache[f"{name}.conv{c}"])[:, None]
            gin = conv1d_input_grad(gpre, p[f"{name}.conv{c}.weight"], 1, 1, 100)
            gh = gin + gh if c in ("3", "6") else gin
        gv = gh.transpose(0, 1, 3, 2).reshape(gh.shape[0], gh.shape[1], 700)
        gz = gz + (gv * cache[f"{name}.initial"][:, None]) @ p[f"{name}.initial_layer.weight"]
    if np.isscalar(gz):
        return np.zeros(g.shape[:2] + (7,), dtype=g.dtype)
    gh4 = _block_back(p, "final_layer", gz, cache["final_layer"])
    gh3 = gh4 + _block_back(p, "layer4", gh4, cache["layer4"])
    gh2 = _block_back(p, "layer3", gh3, cache["layer3"]) + gh3 @ p["encoder.match_dim1.weight"]
    gh1 = _block_back(p, "layer2", gh2, cache["layer2"])
    return _block_back(p, "layer1", gh1, cache["layer1"])
