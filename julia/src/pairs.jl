# Exact all-pairs sums per separation bin, mirroring cosmocorr/backends/numpy_kernels.pair_sums.

const SUM_NAMES = (:npairs, :weight, :wr)
const SHEAR_SUM_NAMES = (:npairs, :weight, :wr, :xip, :xip_im, :xim, :xim_im)

_float_matrix(x::AbstractMatrix) = Matrix{Float64}(x)
_float_vector(x::AbstractVector) = Vector{Float64}(x)
_complex_vector(::Nothing) = nothing
_complex_vector(x::AbstractVector) = Vector{ComplexF64}(x)

"""
    pair_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto)

Sums over all pairs (i in 1, j in 2) per bin: `npairs`, `weight` (sum w_i w_j), `wr`
(sum w_i w_j r) and, when `g1`/`g2` (complex vectors) are not `nothing`, `xip`, `xip_im`,
`xim`, `xim_im` (sums of w_i w_j Re/Im of z_i z_j^* and z_i z_j with each shear projected
onto the great circle joining the pair). `xyz1`, `xyz2` are 3 x N unit vectors; `auto`
counts each unordered pair i < j once. Returns a NamedTuple of `Vector{Float64}` (nbins)
with the field names above; the Python bridge reads it by these known names.

Threading: one task per share of rows (`Threads.@spawn`), each with its own accumulator that
the task returns and that is summed here after `fetch`. Nothing is indexed by
`Threads.threadid()`: tasks may migrate between threads, and since Julia 1.12 the default
pool's thread ids start after the interactive thread, so a `threadid()`-indexed array is
out of bounds. Rows are dealt out interleaved (task t takes rows t, t + ntasks, ...), so for
the triangular auto-correlation loop every task gets long and short rows alike. Each task
sums its rows in a fixed order and the partial sums are added in task order: for a given
thread count the result is reproducible.
"""
function pair_sums(
    xyz1::AbstractMatrix,
    w1::AbstractVector,
    g1,
    xyz2::AbstractMatrix,
    w2::AbstractVector,
    g2,
    min_sep::Real,
    max_sep::Real,
    nbins::Integer,
    log::Bool,
    auto::Bool,
)
    a = _float_matrix(xyz1)
    b = _float_matrix(xyz2)
    wa = _float_vector(w1)
    wb = _float_vector(w2)
    ga = _complex_vector(g1)
    gb = _complex_vector(g2)
    size(a, 1) == 3 || throw(ArgumentError("xyz1 must be 3 x N unit vectors"))
    size(b, 1) == 3 || throw(ArgumentError("xyz2 must be 3 x N unit vectors"))
    length(wa) == size(a, 2) || throw(ArgumentError("w1 must have one weight per object"))
    length(wb) == size(b, 2) || throw(ArgumentError("w2 must have one weight per object"))
    (ga === nothing) == (gb === nothing) ||
        throw(ArgumentError("g1 and g2 must both be given or both be nothing"))
    # the pair loop reads ga[i] and gb[j] under @inbounds: check their lengths here
    ga === nothing ||
        length(ga) == size(a, 2) ||
        throw(ArgumentError("g1 must have one shear per object"))
    gb === nothing ||
        length(gb) == size(b, 2) ||
        throw(ArgumentError("g2 must have one shear per object"))
    nbins >= 1 || throw(ArgumentError("nbins must be positive"))
    nq = ga === nothing ? length(SUM_NAMES) : length(SHEAR_SUM_NAMES)
    n1 = size(a, 2)
    ntasks = max(1, min(Threads.nthreads(), n1))
    lo = Float64(min_sep)
    hi = Float64(max_sep)
    nb = Int(nbins)
    tasks = map(1:ntasks) do t
        Threads.@spawn _pair_rows(
            t,
            ntasks,
            a,
            wa,
            ga,
            b,
            wb,
            gb,
            lo,
            hi,
            nb,
            log,
            auto,
            nq,
        )
    end
    total = zeros(Float64, nq, nb)
    for task in tasks
        total .+= fetch(task)::Matrix{Float64}
    end
    names = ga === nothing ? SUM_NAMES : SHEAR_SUM_NAMES
    return NamedTuple{names}(Tuple(total[q, :] for q in 1:nq))
end

"""
    _pair_rows(first_row, stride, a, wa, ga, b, wb, gb, min_sep, max_sep, nbins, log, auto, nq)

Sums (nq x nbins) over rows `first_row:stride:N1` of catalog 1 against all of catalog 2
(or the columns after the row when `auto`), in a fresh accumulator owned by the calling task.
`ga`/`gb` are `nothing` (counts only) or complex shears; the method is compiled separately for
each, so the `ga !== nothing` test below is resolved at compile time.
"""
function _pair_rows(
    first_row::Int,
    stride::Int,
    a::Matrix{Float64},
    wa::Vector{Float64},
    ga,
    b::Matrix{Float64},
    wb::Vector{Float64},
    gb,
    min_sep::Float64,
    max_sep::Float64,
    nbins::Int,
    log::Bool,
    auto::Bool,
    nq::Int,
)
    acc = zeros(Float64, nq, nbins)
    n1 = size(a, 2)
    n2 = size(b, 2)
    @inbounds for i in first_row:stride:n1
        ax, ay, az = a[1, i], a[2, i], a[3, i]
        for j in (auto ? i + 1 : 1):n2
            bx, by, bz = b[1, j], b[2, j], b[3, j]
            dot = ax * bx + ay * by + az * bz
            r = vincenty_vectors(ax, ay, az, bx, by, bz) / ARCMIN
            k = bin_index(r, min_sep, max_sep, nbins, log)
            k == 0 && continue
            ww = wa[i] * wb[j]
            acc[1, k] += 1
            acc[2, k] += ww
            acc[3, k] += ww * r
            if ga !== nothing
                c2a, s2a, c2b, s2b = spin2_rotations(ax, ay, az, bx, by, bz, dot)
                za = wa[i] * ga[i] * complex(c2a, s2a)
                zb = wb[j] * gb[j] * complex(c2b, s2b)
                p = za * conj(zb)
                m = za * zb
                acc[4, k] += real(p)
                acc[5, k] += imag(p)
                acc[6, k] += real(m)
                acc[7, k] += imag(m)
            end
        end
    end
    return acc
end
