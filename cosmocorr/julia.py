"""Placeholder replaced by the Julia bridge (lazy juliacall loading)."""


class JuliaNotAvailableError(RuntimeError):
    pass


def julia_ready():
    return False


def require_julia():
    raise JuliaNotAvailableError("Julia backend not available")


def kernels():
    require_julia()
