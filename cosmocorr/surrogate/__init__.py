"""NumPy-only surrogate path (paper sec. 7, Algorithm 3): IAEmu without PyTorch, a trainable
surrogate, Jacobians, and posterior inference with emcee and HMC."""
from .checkpoint import UnsafeCheckpointError, load_state_dict
from .iaemu import INPUT_NAMES, OUTPUT_NAMES, IAEmu, IAEmuPrediction
from .scalers import IAEmuScalers

__all__ = ["IAEmu", "IAEmuPrediction", "IAEmuScalers", "INPUT_NAMES", "OUTPUT_NAMES", "UnsafeCheckpointError",
           "load_state_dict"]
