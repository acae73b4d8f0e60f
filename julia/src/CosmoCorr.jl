"""
    CosmoCorr

Julia backend of the Python package cosmocorr. Mirrors the NumPy reference kernels
function for function; the Python bridge (`cosmocorr/julia.py`) converts arrays and the
1-based indices used here back to NumPy's conventions.
"""
module CosmoCorr

using LinearAlgebra
using Random

export separation, bin_index, pair_sums

include("geometry.jl")
include("binning.jl")
include("pairs.jl")

end # module
