"""
    CosmoCorr

Julia backend of the Python package cosmocorr. Mirrors the NumPy reference kernels
function for function; the Python bridge (`cosmocorr/backends/julia_bridge.py`) loads this
module into a private module of its own (juliacall's `newmodule`) and converts arrays and the
1-based indices used here back to NumPy's conventions.

Arrays coming from Python arrive as PythonCall `PyArray` wrappers of NumPy memory; every
entry point copies them into plain Julia arrays first (`Matrix{Float64}(x)`), so that the
kernels index ordinary column-major memory, matrix products go to BLAS and no spawned task
ever touches a Python object.
"""
module CosmoCorr

using ChainRulesCore:
    ChainRulesCore,
    AbstractZero,
    NoTangent,
    ZeroTangent,
    unthunk,
    @ignore_derivatives,
    @non_differentiable,
    @not_implemented
using LinearAlgebra: norm
using ForwardDiff: ForwardDiff
using OrdinaryDiffEq: ODEProblem, Tsit5, solve, successful_retcode

export separation,
    bin_index,
    pair_sums,
    field_pair_sums,
    fcm_iterate,
    sparse_fcm_iterate,
    final_positions,
    soft_pair_sums,
    soft_xi_plus,
    xi_plus_value,
    xi_plus_gradient,
    reverse_gradient,
    reverse_mode_loaded

include("geometry.jl")
include("binning.jl")
include("pairs.jl")
include("clustering.jl")
include("sparse_fcm.jl")
include("gravity.jl")

end # module
