"""NumPy-only surrogate path (paper sec. 7, Algorithm 3): IAEmu without PyTorch, a trainable
surrogate, Jacobians, and posterior inference with emcee and HMC."""
from .checkpoint import UnsafeCheckpointError, load_state_dict
from .iaemu import INPUT_NAMES, OUTPUT_NAMES, IAEmu, IAEmuPrediction
from .scalers import IAEmuScalers

__all__ = ["IAEmu", "IAEmuPrediction", "IAEmuScalers", "INPUT_NAMES", "OUTPUT_NAMES", "UnsafeCheckpointError",
           "load_state_dict"]
from .diagnostics import effective_sample_size, ess_bulk, ess_tail, mcse_mean, rhat, split_rhat
from .ensemble import EmceeResult, run_emcee
from .hmc import HMCResult, hmc
from .iaemu import IAEMU_HOD_SETS
from .mlp import MLPSurrogate, split_70_10_20
from .optimize import minimize_inputs
from .posterior import GaussianSurrogatePosterior, iaemu_posterior

__all__ += ["hmc", "HMCResult", "run_emcee", "EmceeResult", "rhat", "ess_bulk", "ess_tail", "mcse_mean",
            "effective_sample_size", "split_rhat", "IAEMU_HOD_SETS", "MLPSurrogate",
            "split_70_10_20", "minimize_inputs", "GaussianSurrogatePosterior", "iaemu_posterior"]
