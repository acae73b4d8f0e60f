# Hard separation bins with TreeCorr's conventions, mirroring
# cosmocorr/backends/numpy_kernels.bin_index.

"""
    bin_index(r, min_sep, max_sep, nbins, log)

1-based bin of a separation `r` (arcmin), or 0 outside [min_sep, max_sep) and for r == 0
(coincident positions are never a pair). The Python bridge subtracts 1 to return NumPy's
0-based convention with -1 for "no bin".
"""
function bin_index(r::Real, min_sep, max_sep, nbins::Integer, log::Bool)
    if !(r >= min_sep && r < max_sep && r > 0)
        return 0
    end
    k = if log
        floor(
            Int,
            (Base.log(r) - Base.log(min_sep)) / (Base.log(max_sep / min_sep) / nbins),
        )
    else
        floor(Int, (r - min_sep) / ((max_sep - min_sep) / nbins))
    end
    return clamp(k, 0, nbins - 1) + 1
end

bin_index(r::AbstractArray, min_sep, max_sep, nbins::Integer, log::Bool) = [
    bin_index(x, min_sep, max_sep, nbins, log)
    for x in r
]
