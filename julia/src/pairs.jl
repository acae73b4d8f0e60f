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

const FIELD_SUM_NAMES = (:npairs, :weight, :wr, :xi, :xi_im)
const FIELD_SUM_NAMES_LOGR = (:npairs, :weight, :wr, :wlogr, :xi, :xi_im)

"""
    field_pair_sums(xyz1, w1, f1, xyz2, w2, f2, kind, min_sep, max_sep, nbins, log, auto;
                    logr=false)

The count-scalar, scalar-scalar, count-shear and scalar-shear sums (TreeCorr's NK, KK, NG, KG)
over all pairs (i in 1, j in 2) per bin, as `field_pair_sums` of
cosmocorr/backends/numpy_kernels.py: `npairs`, `weight`, `wr` (as `pair_sums`), `wlogr`
(sum w_i w_j ln(r / arcmin), with `logr`) and `xi`, `xi_im`: Re and Im of
sum w_i w_j a_i b_j', with `f1` = a (complex; ones for counts) and `f2` = b (complex). `kind`
"scalar": b_j' = b_j; "spin2": b_j' = b_j conj(u_j)^2 / |u_j|^2 with u_j the direction at j of
the great circle towards i (so Re b_j' = gamma_t, Im b_j' = gamma_x, TreeCorr's signs).
`auto` (scalar only): catalog 1 is catalog 2, unordered pairs i < j. Returns a NamedTuple of
`Vector{Float64}`; threaded as `pair_sums` (a task per interleaved share of rows, its own
accumulator, added in task order).
"""
function field_pair_sums(
    xyz1::AbstractMatrix,
    w1::AbstractVector,
    f1::AbstractVector,
    xyz2::AbstractMatrix,
    w2::AbstractVector,
    f2::AbstractVector,
    kind::Union{Symbol, AbstractString},
    min_sep::Real,
    max_sep::Real,
    nbins::Integer,
    log::Bool,
    auto::Bool;
    logr::Bool = false,
)
    k = Symbol(kind)
    k in (:scalar, :spin2) ||
        throw(ArgumentError("kind must be \"scalar\" or \"spin2\", got $(repr(kind))"))
    auto &&
        k !== :scalar &&
        throw(ArgumentError("auto: only a scalar field has an auto-correlation"))
    a = _float_matrix(xyz1)
    b = _float_matrix(xyz2)
    wa = _float_vector(w1)
    wb = _float_vector(w2)
    fa = Vector{ComplexF64}(f1)
    fb = Vector{ComplexF64}(f2)
    size(a, 1) == 3 || throw(ArgumentError("xyz1 must be 3 x N unit vectors"))
    size(b, 1) == 3 || throw(ArgumentError("xyz2 must be 3 x N unit vectors"))
    length(wa) == length(fa) == size(a, 2) ||
        throw(ArgumentError("w1 and f1 must have one entry per object"))
    length(wb) == length(fb) == size(b, 2) ||
        throw(ArgumentError("w2 and f2 must have one entry per object"))
    nbins >= 1 || throw(ArgumentError("nbins must be positive"))
    n1 = size(a, 2)
    ntasks = max(1, min(Threads.nthreads(), n1))
    lo = Float64(min_sep)
    hi = Float64(max_sep)
    nb = Int(nbins)
    spin2 = k === :spin2
    tasks = map(1:ntasks) do t
        Threads.@spawn _field_rows(
            t,
            ntasks,
            a,
            wa,
            fa,
            b,
            wb,
            fb,
            lo,
            hi,
            nb,
            log,
            auto,
            spin2,
        )
    end
    total = zeros(Float64, 6, nb)
    for task in tasks
        total .+= fetch(task)::Matrix{Float64}
    end
    if logr
        return NamedTuple{FIELD_SUM_NAMES_LOGR}(Tuple(total[q, :] for q in 1:6))
    end
    return NamedTuple{FIELD_SUM_NAMES}(Tuple(total[q, :] for q in (1, 2, 3, 5, 6)))
end

"""
    spin2_column_rotation(ax, ay, az, bx, by, bz) -> conj(u_b)^2 / |u_b|^2

The rotation of a spin-2 field at b into the frame of the great circle from a to b: u_b = cb + i s
is the direction at b towards a (s = -(a x b)_z, cb = (a_z - b_z) + b_z |a - b|^2 / 2), as
`_column_field_sums` of cosmocorr/backends/numpy_kernels.py; 0 for coincident points. (The
negative of `spin2_rotations`' factor at b.)
"""
@inline function spin2_column_rotation(ax, ay, az, bx, by, bz)
    s = ay * bx - ax * by
    dz = az - bz
    cb = dz + bz * ((ax - bx)^2 + (ay - by)^2 + dz^2) / 2
    scale = 1 / max(cb * cb + s * s, 1.0e-300)
    return complex((cb * cb - s * s) * scale, -2 * cb * s * scale)
end

function _field_rows(
    first_row::Int,
    stride::Int,
    a::Matrix{Float64},
    wa::Vector{Float64},
    fa::Vector{ComplexF64},
    b::Matrix{Float64},
    wb::Vector{Float64},
    fb::Vector{ComplexF64},
    min_sep::Float64,
    max_sep::Float64,
    nbins::Int,
    log::Bool,
    auto::Bool,
    spin2::Bool,
)
    acc = zeros(Float64, 6, nbins)
    n1 = size(a, 2)
    n2 = size(b, 2)
    @inbounds for i in first_row:stride:n1
        ax, ay, az = a[1, i], a[2, i], a[3, i]
        for j in (auto ? i + 1 : 1):n2
            bx, by, bz = b[1, j], b[2, j], b[3, j]
            r = vincenty_vectors(ax, ay, az, bx, by, bz) / ARCMIN
            k = bin_index(r, min_sep, max_sep, nbins, log)
            k == 0 && continue
            ww = wa[i] * wb[j]
            acc[1, k] += 1
            acc[2, k] += ww
            acc[3, k] += ww * r
            acc[4, k] += ww * Base.log(r)
            bj = spin2 ? fb[j] * spin2_column_rotation(ax, ay, az, bx, by, bz) : fb[j]
            z = ww * fa[i] * bj
            acc[5, k] += real(z)
            acc[6, k] += imag(z)
        end
    end
    return acc
end
