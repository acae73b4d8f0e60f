"""
    CosmoCorr

Julia backend of the Python package cosmocorr. Mirrors the NumPy reference kernels
function for function; the Python bridge (`cosmocorr/julia.py`) converts arrays and the
1-based indices used here back to NumPy's conventions.
"""
module CosmoCorr

using LinearAlgebra
using Random
using OrdinaryDiffEq
using ForwardDiff
using Zygote
using SciMLSensitivity

export separation, bin_index, pair_sums, fcm_iterate, final_positions, soft_xi_plus, xi_plus_gradient

include("geometry.jl")
include("binning.jl")
include("pairs.jl")
include("clustering.jl")
include("gravity.jl")

end # module
