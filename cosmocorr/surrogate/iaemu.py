"""IAEmu (Pandya et al. 2025, arXiv:2504.05235) in NumPy: the paper's sec. 7 surrogate.

Inputs: 7 HOD + IA parameters ``mu_cen, mu_sat, logMmin, sigma_logM, logM0, logM1, alpha``.
Outputs: 3 correlations (xi, omega, eta) x 40 values: 20 radial-bin means, then 20 aleatoric
variances (softplus). Eval-mode architecture (``../shared/data/iaemu/README.md``):

- encoder blocks Linear -> LeakyReLU(0.01) -> BatchNorm1d -> Dropout(0.2):
  h1 = layer1(x); h2 = layer2(h1); h3 = layer3(h2) + match_dim1(h2); h4 = layer4(h3) + h3;
  z = final_layer(h4);
- per correlation a decoder: Linear 128 -> 700, LeakyReLU, BatchNorm, reshape (7, 100), conv
  blocks (Conv1d k=3 pad=1, LeakyReLU, BatchNorm) 7->14->28->28(+res)->56->112->112(+res), then
  Conv1d 112 -> 2 (k=5, pad=1, stride=5): channel 0 the means, softplus(channel 1) the variances.

The Jacobian with respect to the inputs (paper fig. 18) is exact: by hand-written
backpropagation (:mod:`cosmocorr.surrogate.backprop`, also giving one-pass gradients of a
log-likelihood) or by tangents carried forward through every layer (:mod:`cosmocorr.surrogate.layers`). Monte Carlo dropout (dropout on,
BatchNorm in eval) gives the epistemic spread.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._parallel import thread_map
from .._validate import check_positive_int, check_seed
from . import backprop
from .checkpoint import DEFAULT_MAX_BYTES, check_state_shapes, load_npz, load_state_dict, save_npz
from .layers import batchnorm_eval, conv1d, dropout, leaky_relu, linear, softplus

__all__ = ["IAEmu", "IAEmuPrediction", "INPUT_NAMES", "OUTPUT_NAMES", "IAEMU_HOD_SETS"]

INPUT_NAMES = ("mu_cen", "mu_sat", "logMmin", "sigma_logM", "logM0", "logM1", "alpha")
OUTPUT_NAMES = ("xi", "omega", "eta")
N_BINS = 20
#: The three fixed HOD parameter sets of the IAEmu release's HMC script (``snehjp2/IAEmu``,
#: ``src/scripts/hmc.py``; TNG300 stellar-mass samples, paper sec. 7 and figs. 12-13), physical units,
#: in the order of :data:`INPUT_NAMES`; mu_cen and mu_sat are the samples' measured alignments,
#: replaced by the sampled values. logMmin decreases from set 1 to 3, i.e. (presumably) the paper's
#: stellar-mass cuts log M* >= 10.0, 9.5 and 9.0 (fig. 12, left to right). Usable with input scalers
#: only (``IAEmuScalers.transform_inputs``): the checkpoint itself works in standardised units.
IAEMU_HOD_SETS = {
    "sample1": np.array([0.81, 0.35, 12.54, 0.26, 12.68, 13.48, 1.0]),
    "sample2": np.array([0.71, 0.14, 11.93, 0.26, 12.05, 12.85, 1.0]),
    "sample3": np.array([0.54, 0.05, 11.61, 0.26, 11.80, 12.60, 1.0]),
}
DROPOUT_P = 0.2
_ENCODER_BLOCKS = ("layer1", "layer2", "layer3", "layer4", "final_layer")
_CONVS = ("1", "2", "3", "4", "5", "6")
# layer sizes of the released network (../shared/data/README.md): Linear (in, out); Conv1d (in, out, kernel)
_ENCODER_DIMS = {"layer1": (7, 128), "layer2": (128, 128), "layer3": (128, 256), "layer4": (256, 256),
                 "final_layer": (256, 128)}
_CONV_DIMS = {"1": (7, 14, 3), "2": (14, 28, 3), "3": (28, 28, 3), "4": (28, 56, 3), "5": (56, 112, 3),
              "6": (112, 112, 3), "7": (112, 2, 5)}


def state_shapes():
    """Every entry of the IAEmu state dict (PyTorch names) and its shape, from the architecture:
    torch layouts Linear weight (out, in), Conv1d weight (out, in, kernel), BatchNorm1d weight, bias,
    running_mean, running_var (n,) and the num_batches_tracked counter ()."""
    s = {}

    def lin(name, fin, fout):
        s[f"{name}.weight"], s[f"{name}.bias"] = (fout, fin), (fout,)

    def bn(name, n):
        s.update({f"{name}.{p}": (n,) for p in ("weight", "bias", "running_mean", "running_var")})
        s[f"{name}.num_batches_tracked"] = ()

    for name, (fi, fo) in _ENCODER_DIMS.items():
        lin(f"encoder.{name}.0", fi, fo)
        bn(f"encoder.{name}.2", fo)
        if name == "layer2":
            lin("encoder.match_dim1", 128, 256)
    for d in ("decoder1", "decoder2", "decoder3"):
        lin(f"{d}.initial_layer", 128, 700)
        bn(f"{d}.initial_bn", 700)
        for c, (ci, co, k) in _CONV_DIMS.items():
            s[f"{d}.conv{c}.weight"], s[f"{d}.conv{c}.bias"] = (co, ci, k), (co,)
            if c != "7":
                bn(f"{d}.bn{c}", co)
    return s


def _check_state(state, source, require_buffers=False):
    """Arrays of a state dict checked against :func:`state_shapes` as torch's strict
    ``load_state_dict`` does (``num_batches_tracked`` optional unless ``require_buffers``), numeric,
    finite, running variances non-negative. One ValueError naming ``source`` and the entry."""
    if not hasattr(state, "items"):
        raise TypeError(f"state must be a mapping of entry name -> array, got {type(state).__name__}")
    arrays = {}
    for k, v in state.items():
        try:
            a = np.asarray(v)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{source}: entry '{k}': not an array ({e})") from None
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{source}: entry '{k}': dtype {a.dtype} is not numeric")
        arrays[k] = a
    shapes = state_shapes()
    optional = () if require_buffers else tuple(k for k in shapes if k.endswith("num_batches_tracked"))
    check_state_shapes(arrays, shapes, source, optional)
    for k, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{source}: entry '{k}': contains NaN or infinite values")
        if k.endswith("running_var") and np.any(a < 0):
            raise ValueError(f"{source}: entry '{k}': negative running variance")
    return arrays


@dataclass
class IAEmuPrediction:
    """Per correlation (axis 1: xi, omega, eta) and bin (axis 2): mean, aleatoric and epistemic std."""

    mean: np.ndarray
    aleatoric_std: np.ndarray
    epistemic_std: np.ndarray
    physical_units: bool


class IAEmu:
    """The IAEmu network with NumPy weights (float64 arithmetic by default, float32 optional).

    Build with :meth:`from_checkpoint` (the published PyTorch file, read safely without torch),
    :meth:`from_npz`, or :meth:`random` (same architecture, random weights: for running the
    examples without the checkpoint). Without :attr:`scalers` the model works in standardised
    units (inputs standardised, outputs in the network's scaled units) and says so.
    """

    def __init__(self, state, scalers=None, dtype=np.float64):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        state = _check_state(state, "state")
        self.state = {k: v.astype(self.dtype) for k, v in state.items() if not k.endswith("num_batches_tracked")}
        self.scalers = scalers

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(cls, path, scalers=None, dtype=np.float64, max_bytes=DEFAULT_MAX_BYTES):
        """Load the published PyTorch checkpoint (``iaemu.pt``) without PyTorch.

        ``dtype=np.float32`` (the checkpoint's own precision) is about twice as fast for large
        batches; float64 (default) keeps finite-difference checks clean. The file is read with
        :func:`~cosmocorr.surrogate.checkpoint.load_state_dict`'s limits (``max_bytes``, default
        1 GiB) and every entry checked against the architecture (:func:`state_shapes`) as torch's
        strict ``load_state_dict`` does; any failure is a ValueError naming the file and the entry.
        """
        return cls(_check_state(load_state_dict(path, max_bytes), str(path), require_buffers=True), scalers, dtype)

    @classmethod
    def from_npz(cls, path, scalers=None, dtype=np.float64, max_bytes=DEFAULT_MAX_BYTES):
        """Load weights saved by :meth:`save_npz` (same limits and checks as :meth:`from_checkpoint`)."""
        return cls(_check_state(load_npz(path, max_bytes), str(path)), scalers, dtype)

    def save_npz(self, path):
        """Write the weights as a .npz file (read back by :meth:`from_npz`)."""
        save_npz(path, self.state)

    @classmethod
    def random(cls, seed=0):
        """Same architecture, random weights (He-style scale) and unit BatchNorm statistics."""
        rng = np.random.default_rng(seed)
        s = {}

        def lin(name, fin, fout):
            s[f"{name}.weight"] = rng.normal(0, np.sqrt(2 / fin), (fout, fin))
            s[f"{name}.bias"] = rng.normal(0, 0.05, fout)

        def bn(name, f):
            s[f"{name}.weight"], s[f"{name}.bias"] = np.ones(f), np.zeros(f)
            s[f"{name}.running_mean"], s[f"{name}.running_var"] = np.zeros(f), np.ones(f)

        dims = {"layer1": (7, 128), "layer2": (128, 128), "layer3": (128, 256), "layer4": (256, 256), "final_layer": (256, 128)}
        for name, (fi, fo) in dims.items():
            lin(f"encoder.{name}.0", fi, fo)
            bn(f"encoder.{name}.2", fo)
        lin("encoder.match_dim1", 128, 256)
        chans = {"1": (7, 14), "2": (14, 28), "3": (28, 28), "4": (28, 56), "5": (56, 112), "6": (112, 112)}
        for d in ("decoder1", "decoder2", "decoder3"):
            lin(f"{d}.initial_layer", 128, 700)
            bn(f"{d}.initial_bn", 700)
            for c, (ci, co) in chans.items():
                s[f"{d}.conv{c}.weight"] = rng.normal(0, np.sqrt(2 / (3 * ci)), (co, ci, 3))
                s[f"{d}.conv{c}.bias"] = np.zeros(co)
                bn(f"{d}.bn{c}", co)
            s[f"{d}.conv7.weight"] = rng.normal(0, np.sqrt(1 / (5 * 112)), (2, 112, 5))
            s[f"{d}.conv7.bias"] = np.zeros(2)
        return cls(s)

    # ------------------------------------------------------------------ network
    def _block(self, prefix, v, t, mask):
        p = self.state
        v, t = linear(v, t, p[f"{prefix}.0.weight"], p[f"{prefix}.0.bias"])
        v, t = leaky_relu(v, t)
        v, t = batchnorm_eval(v, t, p[f"{prefix}.2.weight"], p[f"{prefix}.2.bias"],
                              p[f"{prefix}.2.running_mean"], p[f"{prefix}.2.running_var"])
        return dropout(v, t, mask)

    def _bn(self, prefix, v, t):
        p = self.state
        return batchnorm_eval(v, t, p[f"{prefix}.weight"], p[f"{prefix}.bias"], p[f"{prefix}.running_mean"],
                              p[f"{prefix}.running_var"])

    def _decoder(self, name, z, tz):
        p = self.state
        v, t = linear(z, tz, p[f"{name}.initial_layer.weight"], p[f"{name}.initial_layer.bias"])
        v, t = leaky_relu(v, t)
        v, t = self._bn(f"{name}.initial_bn", v, t)
        # torch's view (B, 7, 100), kept channels-last (B, 100, 7) for the convolutions
        v = v.reshape(v.shape[0], 7, 100).transpose(0, 2, 1)
        t = None if t is None else t.reshape(t.shape[0], t.shape[1], 7, 100).transpose(0, 1, 3, 2)
        outs = {}
        for c in _CONVS:
            v, t = conv1d(v, t, p[f"{name}.conv{c}.weight"], p[f"{name}.conv{c}.bias"], stride=1, padding=1)
            v, t = leaky_relu(v, t)
            v, t = self._bn(f"{name}.bn{c}", v, t)
            if c in ("3", "6"):  # residual connections around conv3 and conv6
                rv, rt = outs[str(int(c) - 1)]
                v = v + rv
                t = None if t is None else t + rt
            outs[c] = (v, t)
        v, t = conv1d(v, t, p[f"{name}.conv7.weight"], p[f"{name}.conv7.bias"], stride=5, padding=1)
        var, tvar = softplus(v[..., 1], None if t is None else t[..., 1])
        mean_t = None if t is None else np.concatenate([t[..., 0], tvar], axis=-1)
        return np.concatenate([v[..., 0], var], axis=-1), mean_t

    def _forward(self, x, tangents=False, masks=None, chunk=64, outputs=(0, 1, 2), directions=None):
        """Values (B, n_out, 40) and optionally Jacobians (B, n_out, 40, n_dir), in batch chunks that
        keep the decoder's (chunk, 112, 100) temporaries cache-sized. ``outputs`` picks decoders
        (0 xi, 1 omega, 2 eta) and ``directions`` the input indices to differentiate (default all 7)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.shape[0] > chunk:
            parts = [self._forward(x[i:i + chunk], tangents,
                                   None if masks is None else {k: v[i:i + chunk] for k, v in masks.items()}, chunk,
                                   outputs, directions)
                     for i in range(0, x.shape[0], chunk)]
            return (np.concatenate([p[0] for p in parts]),
                    None if not tangents else np.concatenate([p[1] for p in parts]))
        dirs = np.arange(7) if directions is None else np.asarray(directions)
        t = np.broadcast_to(np.eye(7, dtype=self.dtype)[dirs], (x.shape[0], dirs.size, 7)).copy() if tangents else None
        m = masks or {}
        h1 = self._block("encoder.layer1", x, t, m.get("layer1"))
        h2 = self._block("encoder.layer2", *h1, m.get("layer2"))
        a3 = self._block("encoder.layer3", *h2, m.get("layer3"))
        r3 = linear(*h2, self.state["encoder.match_dim1.weight"], self.state["encoder.match_dim1.bias"])
        h3 = (a3[0] + r3[0], None if t is None else a3[1] + r3[1])
        a4 = self._block("encoder.layer4", *h3, m.get("layer4"))
        h4 = (a4[0] + h3[0], None if t is None else a4[1] + h3[1])
        z = self._block("encoder.final_layer", *h4, m.get("final_layer"))
        outs = [self._decoder(f"decoder{d + 1}", *z) for d in outputs]
        y = np.stack([o[0] for o in outs], axis=1)                       # (B, 3, 40)
        jac = None if t is None else np.stack([o[1] for o in outs], axis=1)  # (B, 3, 7, 40)
        return y, (None if jac is None else np.moveaxis(jac, 2, 3))      # (B, 3, 40, 7)

    @staticmethod
    def _check_x(x, name="x"):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != 7:
            raise ValueError(f"{name} must have shape (n, 7) (inputs {', '.join(INPUT_NAMES)}); got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} contains NaN or infinite values")
        return x

    def _values(self, x, masks=None, chunk=32):
        """Outputs (n, 3, 40) in batch chunks spread over threads (values only, the fast path)."""
        x = np.asarray(x, dtype=self.dtype)

        def run(i):
            m = None if masks is None else {k: v[i:i + chunk] for k, v in masks.items()}
            return backprop.forward(self.state, x[i:i + chunk], masks=m)[0]

        return np.concatenate(thread_map(run, range(0, x.shape[0], chunk)))

    def raw(self, x):
        """Network output (n, 3, 40) for standardised inputs x (n, 7), eval mode."""
        return self._values(self._check_x(x))

    def raw_jacobian(self, x, method="backprop", chunk=16):
        """d raw(x) / d x, shape (n, 3, 40, 7), exact.

        ``method="backprop"`` (default) pulls the 120 unit cotangents back through every layer
        (hand-written reverse mode, :mod:`cosmocorr.surrogate.backprop`); ``"forward"`` pushes the
        7 unit tangents forward instead (the same numbers, faster for large batches).
        """
        x = self._check_x(x)
        if method == "forward":
            return self._forward(x, tangents=True)[1]
        if method != "backprop":
            raise ValueError(f"method must be 'backprop' or 'forward', got {method!r}")
        def run(i):
            xi = x[i:i + chunk].astype(self.dtype)
            _, cache = backprop.forward(self.state, xi)
            jac = np.empty((xi.shape[0], 3, 2 * N_BINS, 7), dtype=self.dtype)
            for q in range(3):   # one decoder at a time: its 40 unit cotangents
                g = np.zeros((xi.shape[0], 2 * N_BINS, 3, 2 * N_BINS), dtype=self.dtype)
                g[:, np.arange(2 * N_BINS), q, np.arange(2 * N_BINS)] = 1
                jac[:, q] = backprop.backward(self.state, cache, g)
            return jac

        return np.concatenate(thread_map(run, range(0, x.shape[0], chunk)))

    def raw_vjp(self, x, cotangent, outputs=(0, 1, 2)):
        """Outputs (n, len(outputs), 40) and the gradient of sum(cotangent * outputs) with
        respect to x, (n, 7), by one backpropagation pass (``outputs`` picks decoders)."""
        x = self._check_x(x).astype(self.dtype)
        y, cache = backprop.forward(self.state, x, outputs)
        g = np.asarray(cotangent, dtype=self.dtype).reshape(y.shape)
        return y, backprop.backward(self.state, cache, g[:, None])[:, 0]

    def raw_mc_dropout(self, x, n_passes=50, seed=None):
        """Network outputs (n_passes, n, 3, 40) with dropout on (p = 0.2) and BatchNorm in eval."""
        x = self._check_x(x)
        rng = np.random.default_rng(seed)
        widths = {"layer1": 128, "layer2": 128, "layer3": 256, "layer4": 256, "final_layer": 128}
        outs = []
        for _ in range(int(n_passes)):
            masks = {k: (rng.random((x.shape[0], w)) >= DROPOUT_P) / (1 - DROPOUT_P) for k, w in widths.items()}
            outs.append(self._values(x, masks=masks))
        return np.array(outs)

    # ------------------------------------------------------------------ predictions
    def predict(self, x, n_passes=50, seed=None, standardized=None):
        """Means, aleatoric std and epistemic std (MC dropout) per correlation and bin.

        Parameters
        ----------
        x : array_like (n, 7)
            Inputs: physical when :attr:`scalers` is set (unless ``standardized=True``), else
            standardised.
        n_passes : int
            Monte Carlo dropout passes for the epistemic std: 0 skips them (``epistemic_std`` is
            then NaN, "not estimated", never 0) or at least 2 (one pass has no spread: ValueError).
        seed : int, SeedSequence or Generator, optional
            Dropout masks.

        Returns
        -------
        IAEmuPrediction
            Arrays (n, 3, 20). In physical units when scalers are set; otherwise in the
            network's standardised units (``physical_units=False``).
        """
        n_passes = check_positive_int(n_passes, "n_passes", minimum=0)
        if n_passes == 1:
            raise ValueError("n_passes=1: one Monte Carlo dropout pass has no spread, so it gives no epistemic "
                             "std; use n_passes >= 2 (or 0 to skip)")
        check_seed(seed)
        x = self._check_x(x)
        use_scalers = self.scalers is not None and not standardized
        xs = self.scalers.transform_inputs(x) if use_scalers else x
        y = self.raw(xs)
        mean, var = y[..., :N_BINS], y[..., N_BINS:]
        mc = self.raw_mc_dropout(xs, n_passes, seed)[..., :N_BINS] if n_passes else None
        if use_scalers:
            mean_p, ale = self.scalers.inverse_outputs(mean, var)
            epi = np.full_like(mean_p, np.nan) if mc is None else np.std(self.scalers.inverse_outputs(mc, np.zeros_like(mc))[0], axis=0)
            return IAEmuPrediction(mean_p, ale, epi, True)
        epi = np.full_like(mean, np.nan) if mc is None else np.std(mc, axis=0)
        return IAEmuPrediction(mean, np.sqrt(var), epi, False)

    def zero_level(self, correlation="omega", hod=None):
        """The level of *physical* zero of ``correlation`` ("omega" or "eta") in the network's
        standardised output units (paper sec. 7: the HMC target for a vanishing IA signal).

        IAEmu's output scaler is one mean and one scale per correlation, so physical zero is one
        constant ``c = -y_mean / y_std`` for all 20 bins, not 0. With output scalers
        (:attr:`scalers`) that exact value is returned. Without them (the published checkpoint)
        the constant is calibrated from the physics: with mu_cen = mu_sat = 0 galaxy orientations
        are random, so omega and eta vanish at every r for any HOD; the level is the network's
        mean output over the 20 bins at mu_cen = mu_sat = 0 and the given HOD. This takes
        standardised mu = 0 as physical mu = 0 (training alignments centred on zero). The check is
        that the prediction there is flat in r, as only the zero function is: for omega with the
        published weights at the mean HOD it is -0.134, flat to 0.007 (std over bins).

        Parameters
        ----------
        correlation : {"omega", "eta"}
            xi is modelled in log and has no physical zero.
        hod : array_like (5,) or (7,), optional
            logMmin, sigma_logM, logM0, logM1, alpha (or all 7 inputs; mu_cen and mu_sat are
            replaced by 0), standardised (default: zeros, the training-set mean). Used only
            without scalers (the exact level does not depend on the HOD).

        Returns
        -------
        float
        """
        if correlation not in ("omega", "eta"):
            raise ValueError(f"correlation must be 'omega' or 'eta' (xi is modelled in log: no physical zero), "
                             f"got {correlation!r}")
        j = OUTPUT_NAMES.index(correlation)
        if self.scalers is not None:
            if self.scalers.log_outputs[j]:
                raise ValueError(f"correlation {correlation!r} is log-scaled by these scalers: no physical zero")
            return float(-self.scalers.y_mean[j] / self.scalers.y_std[j])
        x = np.zeros(7)
        if hod is not None:
            h = np.asarray(hod, dtype=float).ravel()
            if h.size not in (5, 7) or not np.all(np.isfinite(h)):
                raise ValueError(f"hod must hold 5 finite HOD values ({', '.join(INPUT_NAMES[2:])}) or all 7 "
                                 f"inputs, got shape {np.shape(hod)}")
            x[2:] = h[-5:]
        y = self.raw(x[None])[0, j, :N_BINS]
        return float(np.mean(y))
