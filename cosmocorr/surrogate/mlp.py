"""A trainable surrogate for any forward model (paper Algorithm 3, steps 1-5).

An MLP (tanh hidden layers) with a mean head and a variance head (softplus), trained on the
Gaussian negative log-likelihood 0.5 [log s^2 + (y - mu)^2 / s^2] with Adam (written in NumPy,
backpropagation by hand), early stopping on the validation loss, and the paper's 70/10/20
train/validation/test split. Inputs and outputs are standardised with the training set's
statistics. Input Jacobians are exact (backpropagation through every layer).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

from .._progress import progress_range
from .._validate import as_float_array, check_positive_int, check_real, check_seed
from .checkpoint import DEFAULT_MAX_BYTES, load_npz

__all__ = ["MLPSurrogate", "split_70_10_20"]


def split_70_10_20(n, seed=None):
    """Index arrays (train, validation, test) for n samples: 70 %, 10 %, 20 % (Table 2)."""
    n = check_positive_int(n, "n")
    perm = np.random.default_rng(check_seed(seed)).permutation(n)
    a, b = int(round(0.7 * n)), int(round(0.8 * n))
    return perm[:a], perm[a:b], perm[b:]


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def _check_layers(weights, x_mean, x_std, y_mean, y_std, source):
    """The arrays must form one network: x_mean, x_std (k,); y_mean, y_std (m,); W0 (k, h1),
    W_i (h_i, h_i+1), last W (h, 2m); b_i (columns of W_i,); all finite, scales positive.
    A ValueError names ``source`` and the entry."""
    def bad(entry, msg):
        raise ValueError(f"{source}: entry '{entry}': {msg}")

    vec = {}
    for name, v in (("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)):
        a = np.asarray(v)
        if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "iuf":
            bad(name, f"must be a non-empty 1-d numeric array, got shape {a.shape}, dtype {a.dtype}")
        if not np.all(np.isfinite(a)):
            bad(name, "contains NaN or infinite values")
        if name.endswith("std") and np.any(a <= 0):
            bad(name, "must be positive")
        vec[name] = a
    k, m = vec["x_mean"].size, vec["y_mean"].size
    for name, n in (("x_std", k), ("y_std", m)):
        if vec[name].shape != (n,):
            bad(name, f"shape {vec[name].shape}, the {name[0]}_mean entry has {n} values")
    if len(weights) == 0:
        bad("W0", "no layers")
    width = k
    for i, layer in enumerate(weights):
        W, b = (np.asarray(a) for a in layer)
        last = i == len(weights) - 1
        want = f"({width}, {2 * m if last else 'width'})"
        if W.ndim != 2 or W.dtype.kind not in "iuf" or W.shape[0] != width or W.shape[1] == 0 or (
                last and W.shape[1] != 2 * m):
            bad(f"W{i}", f"shape {W.shape}, dtype {W.dtype}: the layer chain needs {want}"
                + (f" (2 x {m} outputs: means, variances)" if last else ""))
        if b.shape != (W.shape[1],) or b.dtype.kind not in "iuf":
            bad(f"b{i}", f"shape {b.shape}, dtype {b.dtype}: W{i} has {W.shape[1]} columns")
        for name, a in ((f"W{i}", W), (f"b{i}", b)):
            if not np.all(np.isfinite(a)):
                bad(name, "contains NaN or infinite values")
        width = W.shape[1]


def _digest(name, a):
    """SHA-256 of an entry's name, dtype, shape and little-endian bytes (written by save)."""
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    h = hashlib.sha256(f"{name}|{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8)


@dataclass
class MLPSurrogate:
    """Mean-and-variance MLP surrogate. Build with :meth:`fit` or :meth:`load`.

    Attributes
    ----------
    weights : list of (W, b)
        Hidden layers, then the output layer producing 2 * n_out values (means, raw variances).
    x_mean, x_std, y_mean, y_std : ndarray
        Standardisation of inputs and outputs.
    history : dict
        ``train_loss`` and ``val_loss`` per epoch (the learning curve); ``test_loss`` at the end.
    """

    weights: list
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    history: dict = field(default_factory=dict)

    def __post_init__(self):
        _check_layers(self.weights, self.x_mean, self.x_std, self.y_mean, self.y_std, "MLPSurrogate")

    @property
    def n_out(self):
        """Number of outputs."""
        return self.y_mean.size

    # ------------------------------------------------------------- network in scaled units
    def _forward(self, xs, keep=False):
        acts = [xs]
        h = xs
        for W, b in self.weights[:-1]:
            h = np.tanh(h @ W + b)
            acts.append(h)
        W, b = self.weights[-1]
        out = h @ W + b
        mu, raw = out[:, : self.n_out], out[:, self.n_out:]
        var = _softplus(raw) + 1e-6
        return (mu, var, raw, acts) if keep else (mu, var)

    def _loss_and_grads(self, xs, ys):
        mu, var, raw, acts = self._forward(xs, keep=True)
        n = xs.shape[0]
        r = ys - mu
        loss = 0.5 * np.mean(np.log(var) + r * r / var)
        d_mu = -r / var / (n * self.n_out)
        d_var = 0.5 * (1 / var - r * r / var**2) / (n * self.n_out)
        d_out = np.concatenate([d_mu, d_var * _sigmoid(raw)], axis=1)
        grads = []
        delta = d_out
        for layer in range(len(self.weights) - 1, -1, -1):
            W, _ = self.weights[layer]
            a = acts[layer]
            grads.append((a.T @ delta, delta.sum(axis=0)))
            if layer > 0:
                delta = (delta @ W.T) * (1 - a * a)
        return loss, grads[::-1]

    # ------------------------------------------------------------- training
    @classmethod
    def fit(cls, x, y, hidden=(64, 64), epochs=2000, batch_size=64, learning_rate=2e-3, patience=100, seed=None,
            progress=False):
        """Train on inputs x (n, k) and outputs y (n, m) with the 70/10/20 split.

        Early stopping keeps the weights of the best validation loss, stopping after
        ``patience`` epochs without improvement. ``hidden`` is a sequence of layer widths >= 1;
        ``epochs``, ``batch_size`` and ``patience`` are integers >= 1, ``learning_rate`` a finite
        positive number (otherwise a ValueError/TypeError naming the argument).
        """
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise TypeError(f"hidden must be a sequence of layer widths, got {type(hidden).__name__}")
        hidden = tuple(check_positive_int(h, "hidden") for h in hidden)
        epochs = check_positive_int(epochs, "epochs")
        batch_size = check_positive_int(batch_size, "batch_size")
        learning_rate = check_real(learning_rate, "learning_rate", low=0.0, low_open=True)
        patience = check_positive_int(patience, "patience")
        check_seed(seed)
        x = as_float_array(x, "x", ndim=2 if np.ndim(x) == 2 else 1)
        y = as_float_array(y, "y", ndim=2 if np.ndim(y) == 2 else 1)
        if x.ndim == 1:
            x = x[:, None]
        if y.ndim == 1:
            y = y[:, None]
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
        if x.shape[0] < 10:
            raise ValueError("x: at least 10 samples are needed for a 70/10/20 split")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("x and y must be finite")
        rng = np.random.default_rng(seed)
        tr, va, te = split_70_10_20(x.shape[0], rng.integers(2**63))
        xm, xsd = x[tr].mean(0), x[tr].std(0) + 1e-12
        ym, ysd = y[tr].mean(0), y[tr].std(0) + 1e-12
        xs, ys = (x - xm) / xsd, (y - ym) / ysd
        sizes = [x.shape[1], *hidden, 2 * y.shape[1]]
        weights = [(rng.normal(0, np.sqrt(1 / a), (a, b)), np.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]
        model = cls(weights, xm, xsd, ym, ysd, {"train_loss": [], "val_loss": []})
        m = [(np.zeros_like(W), np.zeros_like(b)) for W, b in weights]
        v = [(np.zeros_like(W), np.zeros_like(b)) for W, b in weights]
        b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
        best, best_w, wait = np.inf, None, 0
        for _ in progress_range(epochs, desc="training surrogate", progress=progress):
            perm = rng.permutation(tr)
            losses = []
            for i in range(0, perm.size, batch_size):
                idx = perm[i:i + batch_size]
                loss, grads = model._loss_and_grads(xs[idx], ys[idx])
                losses.append(loss)
                t += 1
                for layer, ((W, b), (gW, gb)) in enumerate(zip(model.weights, grads)):
                    mW, mb = m[layer]
                    vW, vb = v[layer]
                    mW, mb = b1 * mW + (1 - b1) * gW, b1 * mb + (1 - b1) * gb
                    vW, vb = b2 * vW + (1 - b2) * gW**2, b2 * vb + (1 - b2) * gb**2
                    m[layer], v[layer] = (mW, mb), (vW, vb)
                    c1, c2 = 1 - b1**t, 1 - b2**t
                    model.weights[layer] = (W - learning_rate * (mW / c1) / (np.sqrt(vW / c2) + eps),
                                            b - learning_rate * (mb / c1) / (np.sqrt(vb / c2) + eps))
            val = model._loss_and_grads(xs[va], ys[va])[0]
            model.history["train_loss"].append(float(np.mean(losses)))
            model.history["val_loss"].append(float(val))
            if val < best - 1e-6:
                best, best_w, wait = val, [(W.copy(), b.copy()) for W, b in model.weights], 0
            else:
                wait += 1
                if wait >= patience:
                    break
        model.weights = best_w
        model.history["test_loss"] = float(model._loss_and_grads(xs[te], ys[te])[0])
        model.history["split"] = {"train": tr, "validation": va, "test": te}
        return model

    # ------------------------------------------------------------- use
    def predict(self, x):
        """Means and standard deviations (aleatoric) in physical units, each (n, m)."""
        xs = (np.atleast_2d(np.asarray(x, dtype=float)) - self.x_mean) / self.x_std
        mu, var = self._forward(xs)
        return mu * self.y_std + self.y_mean, np.sqrt(var) * self.y_std

    def jacobian(self, x):
        """d mean / d x and d std / d x, each (n, m, k), exact, by backpropagation: the unit
        cotangents of the 2m outputs are pulled back through the layers as in training."""
        xs = (np.atleast_2d(np.asarray(x, dtype=float)) - self.x_mean) / self.x_std
        mu, var, raw, acts = self._forward(xs, keep=True)
        n, m = xs.shape[0], self.n_out
        # cotangents (n, 2m outputs, 2m network units): mean_i <- unit i, std_i <- raw unit m + i
        g = np.zeros((n, 2 * m, 2 * m))
        g[:, np.arange(m), np.arange(m)] = self.y_std
        g[:, m + np.arange(m), m + np.arange(m)] = _sigmoid(raw) / (2 * np.sqrt(var)) * self.y_std
        for layer in range(len(self.weights) - 1, 0, -1):
            g = (g @ self.weights[layer][0].T) * (1 - acts[layer] ** 2)[:, None, :]
        jac = (g @ self.weights[0][0].T) / self.x_std                  # (n, 2m, k)
        return jac[:, :m], jac[:, m:]

    def save(self, path):
        """Write the weights, scalers and learning curve to an ``.npz``, with a SHA-256 digest of
        every array (entry ``sha256``) that :meth:`load` verifies."""
        arrays = {"x_mean": self.x_mean, "x_std": self.x_std, "y_mean": self.y_mean, "y_std": self.y_std,
                  "train_loss": np.array(self.history.get("train_loss", []), dtype=float),
                  "val_loss": np.array(self.history.get("val_loss", []), dtype=float)}
        for i, (W, b) in enumerate(self.weights):
            arrays[f"W{i}"], arrays[f"b{i}"] = W, b
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        arrays["sha256"] = np.stack([_digest(k, arrays[k]) for k in sorted(arrays)])
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path, max_bytes=DEFAULT_MAX_BYTES):
        """Read a file written by :meth:`save`, checking it before building the network.

        The zip is read within ``max_bytes`` (default 1 GiB) and without pickles; it must hold
        exactly ``x_mean, x_std, y_mean, y_std, train_loss, val_loss, sha256`` and ``W0, b0, ...,
        W{L-1}, b{L-1}``; the shapes must chain into one network (``W0`` (k, h1), ..., last ``W``
        (h, 2m), ``b_i`` (columns of ``W_i``,), scalers (k,) and (m,)), all finite, scales positive;
        and every array must match the digest :meth:`save` recorded, which also catches what
        shapes cannot (a transposed square ``W1``). Each failure is a ValueError naming the file
        and the entry.
        """
        arrays = load_npz(path, max_bytes)
        n = len([k for k in arrays if re.fullmatch(r"W(0|[1-9][0-9]{0,5})", k)])
        expected = ["x_mean", "x_std", "y_mean", "y_std", "train_loss", "val_loss", "sha256"]
        expected += [f"{p}{i}" for i in range(max(n, 1)) for p in "Wb"]
        if "sha256" not in arrays:
            raise ValueError(f"{path}: entry 'sha256': missing: the file was not written by MLPSurrogate.save "
                             "(which records a digest of every array), so its arrays cannot be verified")
        missing = [k for k in expected if k not in arrays]
        unknown = [k for k in arrays if k not in expected]
        if missing or unknown:
            raise ValueError(f"{path}: " + "; ".join(
                f"{what} entries " + ", ".join(f"'{k}'" for k in keys)
                for what, keys in (("missing", missing), ("unexpected", unknown)) if keys))
        weights = [(arrays[f"W{i}"].astype(float), arrays[f"b{i}"].astype(float)) for i in range(n)]
        _check_layers(weights, arrays["x_mean"], arrays["x_std"], arrays["y_mean"], arrays["y_std"], path)
        for k in ("train_loss", "val_loss"):
            if arrays[k].ndim != 1 or arrays[k].dtype.kind != "f":
                raise ValueError(f"{path}: entry '{k}': must be a 1-d float array, got shape {arrays[k].shape}, "
                                 f"dtype {arrays[k].dtype}")
        names = sorted(k for k in arrays if k != "sha256")
        sha = arrays["sha256"]
        if sha.shape != (len(names), 32) or sha.dtype != np.uint8:
            raise ValueError(f"{path}: entry 'sha256': shape {sha.shape}, dtype {sha.dtype}; expected "
                             f"({len(names)}, 32) uint8, one digest per array")
        for row, k in zip(sha, names):
            if not np.array_equal(row, _digest(k, arrays[k])):
                raise ValueError(f"{path}: entry '{k}': its contents differ from the SHA-256 digest "
                                 "MLPSurrogate.save recorded (the array was edited, transposed or swapped)")
        hist = {"train_loss": arrays["train_loss"].tolist(), "val_loss": arrays["val_loss"].tolist()}
        return cls(weights, *(arrays[k].astype(float) for k in ("x_mean", "x_std", "y_mean", "y_std")), hist)
