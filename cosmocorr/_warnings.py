"""The package's warning classes and the one way to emit a warning (private helper, bottom layer).

Every warning goes through :mod:`warnings` (so that ``pytest.warns``, ``-W error`` and
``warnings.filterwarnings`` see it) *and* the ``cosmocorr`` logger (so that a pipeline that only
reads logs sees it too). Imports nothing from cosmocorr.
"""
from __future__ import annotations

import logging
import warnings

__all__ = ["ConvergenceWarning", "CosmocorrWarning", "emit_warning"]

_log = logging.getLogger("cosmocorr")
# A library's logger prints nothing unless the application configures logging: without this
# handler Python's last-resort handler would print every warning a second time on stderr.
_log.addHandler(logging.NullHandler())


class CosmocorrWarning(UserWarning):
    """Base class of cosmocorr's own warnings."""


class ConvergenceWarning(CosmocorrWarning):
    """An iterative fit (fuzzy c-means, k-means patches) stopped at ``max_iter`` without reaching
    its tolerance. The result is usable but not a fixed point; the fit records ``converged=False``."""


def emit_warning(message, category=CosmocorrWarning, stacklevel=3):
    """Emit ``message`` as ``category`` through :mod:`warnings` and the ``cosmocorr`` logger."""
    _log.warning("%s: %s", category.__name__, message)
    warnings.warn(message, category, stacklevel=stacklevel)
