# The gravity forward model and the soft xi+ estimator, differentiable in G (paper sec. 6),
# mirroring cosmocorr/differentiable/gravity.py and cosmocorr/differentiable/gradient.py
# (approaches "none" and "c" with sigmoid bins).
#
# Differentiation, in both modes, goes through `xi_plus_value(G, model)`:
# - forward (`ForwardDiff`, in this core module): G is a `ForwardDiff.Dual`; u0 and p of the ODE
#   take its type, the whole solve and the estimator run on Duals, and one evaluation gives the
#   value and dxi/dG;
# - reverse (`Zygote`): the solve is differentiated by SciMLSensitivity's adjoint and the
#   estimator by Zygote. Both packages are weak dependencies: the reverse path lives in the
#   package extension `CosmoCorrReverseExt` (ext/), loaded by Julia when Zygote and
#   SciMLSensitivity are loaded too; it adds the method of `reverse_gradient` below.
# Zygote cannot differentiate code that mutates arrays (`push!`, `setindex!`, typed
# comprehensions, nested generators lowered to `Iterators.flatten`). Everything that does so
# outside the soft sums (the ODE problem, the one-hot cluster matrix and the cluster shears and
# weights) is built once, outside the differentiated function, by `gravity_model`. The soft
# sums themselves (`soft_pair_sums`) are a tiled, threaded loop over the pairs with a
# `ChainRulesCore.rrule` of their own, whose pullback recomputes each pair's terms: Zygote's
# tape holds one entry for them and no pair-length array (memory O(n + nbins), not O(n^2)).
# The rest of the differentiated code only indexes, broadcasts, multiplies matrices and calls
# `solve`.

"""
    gravity_rhs!(du, u, p, t)

dx/dt = v, dv/dt = -G M x / (|x|^2 + eps^2)^(3/2) for all bodies; `u` holds the 3N positions
(body-major) then the 3N velocities; `p = [G, M, eps^2]`. No branch depends on values, so a
compiled ReverseDiff tape of it (`ReverseDiffVJP(true)`) is valid for every state.
"""
function gravity_rhs!(du, u, p, t)
    G, M, eps2 = p[1], p[2], p[3]
    n = length(u) ÷ 6
    @inbounds for i in 1:n
        x, y, z = u[3i - 2], u[3i - 1], u[3i]
        inv3 = (x * x + y * y + z * z + eps2)^(-1.5)
        du[3i - 2] = u[3n + 3i - 2]
        du[3i - 1] = u[3n + 3i - 1]
        du[3i] = u[3n + 3i]
        du[3n + 3i - 2] = -G * M * x * inv3
        du[3n + 3i - 1] = -G * M * y * inv3
        du[3n + 3i] = -G * M * z * inv3
    end
    return nothing
end

"""
    pair_indices(n) -> (ii, jj)

All unordered pairs i < j of `n` objects, row by row (the order of NumPy's `triu_indices`),
for tests and diagnostics (the estimator loops over the pairs without index lists). Built
with plain loops, so never inside Zygote (declared non-differentiable).
"""
function pair_indices(n::Integer)
    np = n * (n - 1) ÷ 2
    ii = Vector{Int}(undef, np)
    jj = Vector{Int}(undef, np)
    k = 0
    for i in 1:n, j in (i + 1):n
        k += 1
        ii[k] = i
        jj[k] = j
    end
    return ii, jj
end

"""
    one_hot(labels) -> A

The fixed assignment matrix of approach (c): `A[i, k] = 1` when object `i` has the k-th of the
sorted distinct labels (N x c, c the number of labels used). Non-differentiable.
"""
function one_hot(labels::AbstractVector{<:Integer})
    used = sort(unique(labels))
    A = zeros(Float64, length(labels), length(used))
    for (i, l) in enumerate(labels)
        A[i, searchsortedfirst(used, l)] = 1.0
    end
    return A
end

@non_differentiable pair_indices(n)
@non_differentiable one_hot(labels)

"""
    gravity_model(x0, v0, g1, g2, edges, alpha; labels=nothing, M=1.0, softening=0.01,
                  t_max=2pi, reltol=1e-10, abstol=1e-12, observer_distance=10.0)

Everything about the forward model and the estimator that does not depend on G, built once
and outside any AD: the ODE problem (`x0`, `v0` are 3 x N), the objects' shears and weights
(all galaxies with weight 1, or with `labels` (1-based, fixed) the clusters of approach (c):
mean shears, member counts as weights and the one-hot matrix that places each cluster at the
normalised mean position of its members). `sensealg` is `nothing` (the solver's default, what
forward mode wants); the reverse-mode extension sets its pinned adjoint there.
"""
function gravity_model(
    x0::AbstractMatrix,
    v0::AbstractMatrix,
    g1::AbstractVector,
    g2::AbstractVector,
    edges::AbstractVector,
    alpha::Real;
    labels = nothing,
    M::Real = 1.0,
    softening::Real = 0.01,
    t_max::Real = 2pi,
    reltol::Real = 1.0e-10,
    abstol::Real = 1.0e-12,
    observer_distance::Real = 10.0,
)
    X0 = Matrix{Float64}(x0)
    V0 = Matrix{Float64}(v0)
    n = size(X0, 2)
    size(X0, 1) == 3 || throw(ArgumentError("x0 must be 3 x N positions"))
    size(V0) == size(X0) || throw(ArgumentError("v0 must have the shape of x0 (3 x N)"))
    length(g1) == n && length(g2) == n ||
        throw(ArgumentError("g1 and g2 must have one entry per body"))
    length(edges) >= 2 || throw(ArgumentError("edges must hold at least two bin edges"))
    alpha > 0 || throw(ArgumentError("alpha must be positive, got $(alpha)"))
    t_max > 0 || throw(ArgumentError("t_max must be positive, got $(t_max)"))
    start = vcat(vec(X0), vec(V0))
    eps2 = Float64(softening)^2
    prob = ODEProblem(gravity_rhs!, start, (0.0, Float64(t_max)), [1.0, Float64(M), eps2])
    s1 = Vector{Float64}(g1)
    s2 = Vector{Float64}(g2)
    if labels === nothing
        A = nothing
        c1, c2, w = s1, s2, ones(n)
    else
        lab = Vector{Int}(labels)
        length(lab) == n || throw(ArgumentError("labels must have one entry per body"))
        A = one_hot(lab)
        w = vec(sum(A; dims = 1))
        c1 = (A' * s1) ./ w
        c2 = (A' * s2) ./ w
    end
    return (
        prob = prob,
        start = start,
        n = n,
        M = Float64(M),
        eps2 = eps2,
        t_end = Float64(t_max),
        reltol = Float64(reltol),
        abstol = Float64(abstol),
        observer_distance = Float64(observer_distance),
        A = A,
        g1 = c1,
        g2 = c2,
        w = w,
        edges = Vector{Float64}(edges),
        alpha = Float64(alpha),
        sensealg = nothing,
    )
end

# Tsit5 to t_max with the model's tolerances, with or without a `sensealg` (two methods, so the
# keyword arguments are literal in each call, as Zygote sees them through `solve`'s rrule)
function _solve(model::NamedTuple, u0, p, ::Nothing)
    return solve(
        model.prob,
        Tsit5();
        u0 = u0,
        p = p,
        saveat = [model.t_end],
        reltol = model.reltol,
        abstol = model.abstol,
    )
end

function _solve(model::NamedTuple, u0, p, sensealg)
    return solve(
        model.prob,
        Tsit5();
        u0 = u0,
        p = p,
        saveat = [model.t_end],
        reltol = model.reltol,
        abstol = model.abstol,
        sensealg = sensealg,
    )
end

function _check_solution(sol)
    successful_retcode(sol) ||
        error("the gravity ODE solve failed (retcode $(sol.retcode))")
    return nothing
end

"""
    final_positions(G, model)

Positions (3 x N) at `t_max` for the constant `G`, solved with Tsit5. `u0` and `p` are passed
to `solve` (the SciMLSensitivity pattern: the problem itself stays a constant); both take G's
type, so a ForwardDiff `Dual` G runs the solve on Duals, while under Zygote they are plain
arrays and the adjoint `model.sensealg` (set by the reverse-mode extension) gives the
derivative. With `model.sensealg === nothing` no `sensealg` is passed.
"""
function final_positions(G::Real, model::NamedTuple)
    u0 = model.start .* one(G)
    p = [G, model.M * one(G), model.eps2 * one(G)]
    sol = _solve(model, u0, p, model.sensealg)
    # the retcode check is bookkeeping, kept out of the differentiated code
    @ignore_derivatives _check_solution(sol)
    n = model.n
    return reshape(sol.u[end][1:(3n)], 3, n)
end

"""
    final_positions(G, x0, v0; M=1.0, softening=0.01, t_max=2pi, reltol=1e-10, abstol=1e-12)

Convenience form from initial positions and velocities (3 x N each).
"""
function final_positions(
    G::Real,
    x0::AbstractMatrix,
    v0::AbstractMatrix;
    M::Real = 1.0,
    softening::Real = 0.01,
    t_max::Real = 2pi,
    reltol::Real = 1.0e-10,
    abstol::Real = 1.0e-12,
)
    n = size(x0, 2)
    model = gravity_model(
        x0,
        v0,
        zeros(n),
        zeros(n),
        [0.0, 1.0],
        1.0;
        M = M,
        softening = softening,
        t_max = t_max,
        reltol = reltol,
        abstol = abstol,
    )
    return final_positions(G, model)
end

"""
    observed_unit_vectors(x, observer_distance)

Unit vectors (3 x N) from an observer at `observer_distance` along -x to the bodies.
"""
function observed_unit_vectors(x::AbstractMatrix, observer_distance::Real)
    p = x .+ [observer_distance, 0.0, 0.0]
    return p ./ sqrt.(sum(p.^2; dims = 1))
end

"""
    logistic(x)

The logistic sigmoid 1 / (1 + exp(-x)), evaluated so that neither it nor its derivative
overflows: for x < 0 as e / (1 + e) with e = exp(x) <= 1. The naive form overflows exp(-x)
for x < -709 and then gives 0 with a NaN derivative (Inf / Inf^2) under ForwardDiff (and so
in Zygote's dual-number broadcast); with the default alpha = 1 / arcmin and separations up
to ~1700 arcmin that happens for most pairs. As `expit` in cosmocorr/differentiable/dual.py.
"""
function logistic(x::Real)
    if x >= 0
        return inv(one(x) + exp(-x))
    end
    e = exp(x)
    return e / (one(x) + e)
end

"""
    soft_pair_terms(ax, ay, az, bx, by, bz, g1a, g2a, g1b, g2b) -> (r, xp)

One pair's separation `r` (arcmin, eq. 16 in vector form) and xi+ term
`xp = Re(z_a conj(z_b))` with each shear projected onto the great circle joining the pair, as
`_pair_terms` of cosmocorr/differentiable/soft_estimator.py. Scalar code, generic in the
number type (Float64 or ForwardDiff Duals).
"""
@inline function soft_pair_terms(ax, ay, az, bx, by, bz, g1a, g2a, g1b, g2b)
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    r = atan(sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz) / ARCMIN
    dz = az - bz
    dsq = (ax - bx)^2 + (ay - by)^2 + dz^2
    s = -cz
    cb = dz + bz * dsq / 2
    ca = az * dsq / 2 - dz
    nb = s * s + cb * cb
    na = s * s + ca * ca
    cos2b = (s * s - cb * cb) / nb
    sin2b = 2 * s * cb / nb
    cos2a = (s * s - ca * ca) / na
    sin2a = -2 * s * ca / na
    zar = g1a * cos2a - g2a * sin2a
    zai = g1a * sin2a + g2a * cos2a
    zbr = g1b * cos2b - g2b * sin2b
    zbi = g1b * sin2b + g2b * cos2b
    return r, zar * zbr + zai * zbi
end

# the sigmoid soft-bin weight of eq. 22 for the bin [lo, hi)
@inline soft_weight(r, lo, hi, alpha) = logistic(alpha * (r - lo)) *
    logistic(alpha * (hi - r))

"""
    soft_pair_sums(xyz, g1, g2, w, edges, alpha) -> S

The soft-binned sums of eq. 8 over the unordered pairs i < j of the objects (`xyz` 3 x n unit
vectors, `alpha` in 1/arcmin): `S[1, k] = sum W_k(r_ij) w_i w_j xp_ij` and
`S[2, k] = sum W_k(r_ij) w_i w_j` (2 x nbins), with W_k the sigmoid weights of eq. 22.

Tiled: the rows are dealt out interleaved to one task each (as `pair_sums`); a task walks its
rows pair by pair with an accumulator of its own (2 x nbins), and the accumulators are added
in task order, so no array of pair length and no nbins x npairs matrix is ever formed (memory
O(n + nbins)) and the result is reproducible for a given thread count. Works on Float64 and on
ForwardDiff Duals (forward mode differentiates straight through it); reverse mode uses the
`ChainRulesCore.rrule` below, so Zygote records one entry for the whole sum.
"""
function soft_pair_sums(
    xyz::AbstractMatrix,
    g1::AbstractVector,
    g2::AbstractVector,
    w::AbstractVector,
    edges::AbstractVector,
    alpha::Real,
)
    T = promote_type(eltype(xyz), eltype(g1), eltype(g2), eltype(w), Float64)
    n = size(xyz, 2)
    ntasks = max(1, min(Threads.nthreads(), n))
    tasks = map(1:ntasks) do t
        Threads.@spawn _soft_rows(T, t, ntasks, xyz, g1, g2, w, edges, alpha)
    end
    S = zeros(T, 2, length(edges) - 1)
    for task in tasks
        S .+= fetch(task)::Matrix{T}
    end
    return S
end

function _soft_rows(::Type{T}, first_row, stride, xyz, g1, g2, w, edges, alpha) where {T}
    nb = length(edges) - 1
    acc = zeros(T, 2, nb)
    n = size(xyz, 2)
    @inbounds for i in first_row:stride:n, j in (i + 1):n
        r, xp = soft_pair_terms(
            xyz[1, i],
            xyz[2, i],
            xyz[3, i],
            xyz[1, j],
            xyz[2, j],
            xyz[3, j],
            g1[i],
            g2[i],
            g1[j],
            g2[j],
        )
        ww = w[i] * w[j]
        for k in 1:nb
            wk = soft_weight(r, edges[k], edges[k + 1], alpha) * ww
            acc[1, k] += wk * xp
            acc[2, k] += wk
        end
    end
    return acc
end

# the tag of the 12-partial Duals of one pair's inputs in the pullback below
struct SoftPairTag end

const NPAIR_INPUTS = 12

"""
    soft_pair_score(ax, ay, az, bx, by, bz, g1a, g2a, g1b, g2b, wa, wb, D, edges, alpha)

One pair's contribution to `sum(D .* S)` for `S = soft_pair_sums(...)`: the scalar whose
gradient in the pair's 12 inputs is that pair's share of the pullback of `soft_pair_sums`
for the cotangent `D` (2 x nbins).
"""
@inline function soft_pair_score(
    ax,
    ay,
    az,
    bx,
    by,
    bz,
    g1a,
    g2a,
    g1b,
    g2b,
    wa,
    wb,
    D,
    edges,
    alpha,
)
    r, xp = soft_pair_terms(ax, ay, az, bx, by, bz, g1a, g2a, g1b, g2b)
    ww = wa * wb
    s = zero(r * xp * ww)
    for k in 1:(length(edges) - 1)
        s += (D[1, k] * xp + D[2, k]) * soft_weight(r, edges[k], edges[k + 1], alpha) * ww
    end
    return s
end

function _soft_rows_vjp(first_row, stride, D, xyz, g1, g2, w, edges, alpha)
    n = size(xyz, 2)
    dxyz = zeros(Float64, 3, n)
    dg1 = zeros(Float64, n)
    dg2 = zeros(Float64, n)
    dw = zeros(Float64, n)
    @inbounds for i in first_row:stride:n, j in (i + 1):n
        vals = (
            xyz[1, i],
            xyz[2, i],
            xyz[3, i],
            xyz[1, j],
            xyz[2, j],
            xyz[3, j],
            g1[i],
            g2[i],
            g1[j],
            g2[j],
            w[i],
            w[j],
        )
        seeded = ntuple(
            q -> ForwardDiff.Dual{SoftPairTag}(
                Float64(vals[q]),
                ntuple(l -> Float64(l == q), Val(NPAIR_INPUTS)),
            ),
            Val(NPAIR_INPUTS),
        )
        p = ForwardDiff.partials(soft_pair_score(seeded..., D, edges, alpha))
        dxyz[1, i] += p[1]
        dxyz[2, i] += p[2]
        dxyz[3, i] += p[3]
        dxyz[1, j] += p[4]
        dxyz[2, j] += p[5]
        dxyz[3, j] += p[6]
        dg1[i] += p[7]
        dg2[i] += p[8]
        dg1[j] += p[9]
        dg2[j] += p[10]
        dw[i] += p[11]
        dw[j] += p[12]
    end
    return dxyz, dg1, dg2, dw
end

"""
    soft_pair_sums_vjp(D, xyz, g1, g2, w, edges, alpha) -> (dxyz, dg1, dg2, dw)

The pullback of `soft_pair_sums` for the cotangent `D` (2 x nbins): pair by pair, the gradient
of `soft_pair_score` in the pair's 12 inputs (one ForwardDiff evaluation with 12 partials),
added to the two objects' entries; tiled over tasks like the forward sums, each task with its
own gradient arrays, added in task order. Nothing per pair is stored: the pair terms are
recomputed, so reverse mode needs O(n + nbins) memory.
"""
function soft_pair_sums_vjp(D, xyz, g1, g2, w, edges, alpha)
    n = size(xyz, 2)
    ntasks = max(1, min(Threads.nthreads(), n))
    Df = Matrix{Float64}(D)
    tasks = map(1:ntasks) do t
        Threads.@spawn _soft_rows_vjp(t, ntasks, Df, xyz, g1, g2, w, edges, alpha)
    end
    dxyz = zeros(Float64, 3, n)
    dg1 = zeros(Float64, n)
    dg2 = zeros(Float64, n)
    dw = zeros(Float64, n)
    for task in tasks
        a, b, c, e = fetch(task)::NTuple{4, Array{Float64}}
        dxyz .+= a
        dg1 .+= b
        dg2 .+= c
        dw .+= e
    end
    return dxyz, dg1, dg2, dw
end

# Reverse rule of the soft sums (used by Zygote through ChainRules). Defined for Float64
# inputs, which is what reverse mode passes; the bin edges and alpha are constants of the
# estimator (their tangents are not implemented).
function ChainRulesCore.rrule(
    ::typeof(soft_pair_sums),
    xyz::AbstractMatrix{Float64},
    g1::AbstractVector{Float64},
    g2::AbstractVector{Float64},
    w::AbstractVector{Float64},
    edges::AbstractVector,
    alpha::Real,
)
    S = soft_pair_sums(xyz, g1, g2, w, edges, alpha)
    function soft_pair_sums_pullback(dS)
        D = unthunk(dS)
        no_edges = @not_implemented("bin edges are constants of the soft estimator")
        no_alpha = @not_implemented("alpha is a constant of the soft estimator")
        if D isa AbstractZero
            return (
                NoTangent(),
                ZeroTangent(),
                ZeroTangent(),
                ZeroTangent(),
                ZeroTangent(),
                no_edges,
                no_alpha,
            )
        end
        dxyz, dg1, dg2, dw = soft_pair_sums_vjp(D, xyz, g1, g2, w, edges, alpha)
        return (NoTangent(), dxyz, dg1, dg2, dw, no_edges, no_alpha)
    end
    return S, soft_pair_sums_pullback
end

"""
    soft_xi_plus(xyz, g1, g2, w, edges, alpha)

Soft-binned xi+ (paper eq. 8 with the sigmoid weights of eq. 22, `alpha` in 1/arcmin) over the
unordered pairs of the objects (`xyz` 3 x n unit vectors): `S[1, :] ./ S[2, :]` of
`soft_pair_sums`. Differentiable with ForwardDiff (Duals through the sums) and Zygote (the
sums' `rrule`, then a quotient); memory O(n + nbins) in both modes.

A bin whose soft weights are all exactly 0 (no pair at all, or every pair so far outside the bin
that its weights underflow) is empty and holds NaN, as in the NumPy estimator. Its derivative
is not NaN here (see `_empty_as_nan`): the quotient is formed with 1 in place of the zero
denominator and the NaN added as a constant, because a 0/0 quotient would make reverse mode
spread NaN to every bin (its pullback multiplies the zero cotangent of the other bins by
1/0 = Inf).
"""
function soft_xi_plus(
    xyz::AbstractMatrix,
    g1::AbstractVector,
    g2::AbstractVector,
    w::AbstractVector,
    edges::AbstractVector,
    alpha::Real,
)
    S = soft_pair_sums(xyz, g1, g2, w, edges, alpha)
    num = S[1, :]
    den = S[2, :]
    empty = @ignore_derivatives _empty_bins(den)
    return num ./ (den .+ empty) .+ @ignore_derivatives(_nan_where(empty))
end

# bins whose summed soft weight is exactly 0 (by value, for Duals too), and NaN there, 0 elsewhere
_empty_bins(den::AbstractVector) = ForwardDiff.value.(den) .== 0
_nan_where(empty::AbstractVector{Bool}) = ifelse.(empty, NaN, 0.0)

"""
    _empty_as_nan(xi, dxi)

`dxi` with NaN wherever `xi` is NaN (the empty bins of `soft_xi_plus`): the NumPy estimator's
convention of NaN in value and derivative. Applied to the results, outside AD.
"""
_empty_as_nan(xi::AbstractVector, dxi::AbstractVector) = ifelse.(isnan.(xi), NaN, dxi)

_normalise_columns(m::AbstractMatrix) = m ./ sqrt.(sum(m.^2; dims = 1))

"""
    xi_plus_value(G, model)

xi+ per bin of the forward model at `G` (`model` from `gravity_model`): the soft estimator over
all galaxy pairs, or over the cluster objects of approach (c) (the clustering held fixed). The
function both modes differentiate.
"""
function xi_plus_value(G::Real, model::NamedTuple)
    xyz = observed_unit_vectors(final_positions(G, model), model.observer_distance)
    pos = model.A === nothing ? xyz : _normalise_columns(xyz * model.A)
    return soft_xi_plus(pos, model.g1, model.g2, model.w, model.edges, model.alpha)
end

"""
    xi_plus_value(G, x0, v0, g1, g2, edges, alpha; labels=nothing, kwargs...)

Convenience form; `kwargs` as for `gravity_model`.
"""
function xi_plus_value(G::Real, x0, v0, g1, g2, edges, alpha; kwargs...)
    return xi_plus_value(G, gravity_model(x0, v0, g1, g2, edges, alpha; kwargs...))
end

"""
    reverse_gradient(model, G) -> (xi, dxi_dG)

Reverse-mode xi+ and d xi+/d G of the forward model (`model` from `gravity_model`): Zygote
through the estimator and SciMLSensitivity's adjoint through the solve. Defined (has a method)
only when the package extension `CosmoCorrReverseExt` is loaded, i.e. after
`using Zygote, SciMLSensitivity` in the same session; `reverse_mode_loaded()` tells.
"""
function reverse_gradient end

"""
    reverse_mode_loaded()

Whether the reverse-mode extension `CosmoCorrReverseExt` (Zygote + SciMLSensitivity) is loaded.
"""
reverse_mode_loaded() = Base.get_extension(@__MODULE__, :CosmoCorrReverseExt) !== nothing

"""
    xi_plus_gradient(G, x0, v0, g1, g2, edges, alpha; mode=:forward, labels=nothing, M=1.0,
                     softening=0.01, t_max=2pi, reltol=1e-10, abstol=1e-12,
                     observer_distance=10.0)

(xi = xi+ per bin, dxi_dG = d xi+/d G per bin), both from one forward solve:
- `mode = :forward` (or "forward"): ForwardDiff; one evaluation on a Dual G carries value and derivative
  (as `ForwardDiff.derivative` does internally, keeping the value too);
- `mode = :reverse` (or "reverse"): `reverse_gradient` of the extension `CosmoCorrReverseExt`
  (Zygote and SciMLSensitivity must be loaded; an error says so otherwise).
Empty bins (see `soft_xi_plus`) hold NaN in both, in either mode.
"""
function xi_plus_gradient(
    G::Real,
    x0::AbstractMatrix,
    v0::AbstractMatrix,
    g1::AbstractVector,
    g2::AbstractVector,
    edges::AbstractVector,
    alpha::Real;
    mode::Union{Symbol, AbstractString} = :forward,
    kwargs...,
)
    m = Symbol(mode) # a Symbol from Julia, a String from Python
    m in (:forward, :reverse) ||
        throw(ArgumentError("mode must be :forward or :reverse, got $(repr(mode))"))
    model = gravity_model(x0, v0, g1, g2, edges, alpha; kwargs...)
    g0 = Float64(G)
    if m === :reverse
        reverse_mode_loaded() ||
            error(
                "reverse mode needs Zygote and SciMLSensitivity loaded (the CosmoCorrReverseExt " *
                    "extension): `using Zygote, SciMLSensitivity` in Julia; from Python " *
                    "`cosmocorr julia install --reverse-mode` once",
            )
        xi, dxi = reverse_gradient(model, g0)
        return (xi = xi, dxi_dG = _empty_as_nan(xi, dxi))
    end
    f = g -> xi_plus_value(g, model)
    T = typeof(ForwardDiff.Tag(f, Float64))
    y = f(ForwardDiff.Dual{T}(g0, one(g0)))
    xi = [ForwardDiff.value(T, yk) for yk in y]
    dxi = [ForwardDiff.partials(T, yk, 1) for yk in y]
    return (xi = xi, dxi_dG = _empty_as_nan(xi, dxi))
end
