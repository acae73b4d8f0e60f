# Fuzzy c-means on the sky (paper eqs. 15, 17, 18), mirroring
# cosmocorr/backends/numpy_fcm.fcm_iterate.
#
# Memory layout: everything per object is a column. Objects are 3 x N unit vectors, centres
# 3 x c, and the memberships are stored c x N (column i holds object i's c memberships), so
# that the loops below walk contiguous memory (Julia arrays are column-major). The Python
# bridge transposes the c x N matrix to NumPy's (N, c).
#
# Threading: each sweep splits the objects into `ntasks` contiguous column ranges, one task
# (`Threads.@spawn`) each. A task writes only its own columns of U and returns its own partial
# centre sums, J_m and change, which are combined here in task order: no shared accumulator,
# nothing indexed by `Threads.threadid()`, and for a given thread count the result is
# reproducible.

"""
    angular_distances(xyz, cxyz)

Vincenty distances (radians, eq. 16) from c centres (3 x c) to N objects (3 x N): c x N, one
column per object.
"""
function angular_distances(xyz::AbstractMatrix, cxyz::AbstractMatrix)
    n = size(xyz, 2)
    c = size(cxyz, 2)
    T = promote_type(eltype(xyz), eltype(cxyz))
    d = Matrix{T}(undef, c, n)
    @inbounds for i in 1:n, k in 1:c
        d[k, i] = vincenty_vectors(
            xyz[1, i],
            xyz[2, i],
            xyz[3, i],
            cxyz[1, k],
            cxyz[2, k],
            cxyz[3, k],
        )
    end
    return d
end

"""
    membership_column!(u, d, p)

Eq. 18 for one object: `u[k] = (d_min / d[k])^p` normalised to sum 1, with `p = 2/(m-1)` and
`d` its distances to the c centres; an object on one or more centres (`d_min == 0`) shares
its membership equally among them, as `cosmocorr.backends.numpy_fcm.memberships`.
"""
function membership_column!(u::AbstractVector, d::AbstractVector, p::Real)
    dmin = minimum(d)
    @inbounds if dmin == 0
        for k in eachindex(d, u)
            u[k] = d[k] == 0 ? one(eltype(u)) : zero(eltype(u))
        end
    else
        for k in eachindex(d, u)
            u[k] = (dmin / d[k])^p
        end
    end
    s = sum(u)
    @inbounds for k in eachindex(u)
        u[k] /= s
    end
    return u
end

"""
    memberships(d, m)

Eq. 18 for every object: `d` is c x N (one column per object, as `angular_distances`), the
result c x N with columns summing to 1.
"""
function memberships(d::AbstractMatrix, m::Real)
    p = 2 / (m - 1)
    U = similar(d, float(eltype(d)))
    for i in axes(d, 2)
        membership_column!(view(U, :, i), view(d, :, i), p)
    end
    return U
end

"""
    renormalise(sums, previous)

Eq. 17 on the sphere: each column of the centre sums (3 x c) scaled to unit length; a centre
without weight (zero sum) stays where it was (`previous`), as `numpy_fcm.renormalise`.
"""
function renormalise(sums::Matrix{Float64}, previous::Matrix{Float64})
    v = copy(sums)
    for k in axes(v, 2)
        nrm = norm(view(v, :, k))
        if nrm > 0
            v[:, k] ./= nrm
        else
            v[:, k] .= view(previous, :, k)
        end
    end
    return v
end

"""
    column_ranges(n, ntasks)

`ntasks` contiguous, non-overlapping ranges covering 1:n in order (some empty when n < ntasks).
"""
function column_ranges(n::Integer, ntasks::Integer)
    edges = [div((t - 1) * n, ntasks) for t in 1:(ntasks + 1)]
    return [(edges[t] + 1):edges[t + 1] for t in 1:ntasks]
end

"""
    fcm_sweep!(U, X, cxyz, m, w, ntasks) -> (sums, jm, change)

One pass over the objects for the centres `cxyz` (3 x c): memberships (eq. 18) written into
the columns of `U` (c x N), the next centre sums (3 x c) of `u^m w x` (eq. 17 before
normalisation), J_m (eq. 15, arcmin^2, unweighted as in NumPy) and the largest change
max |U_new - U_old| against what `U` held before. The NumPy kernel's `sweep`.
"""
function fcm_sweep!(
    U::Matrix{Float64},
    X::Matrix{Float64},
    cxyz::Matrix{Float64},
    m::Float64,
    w::Union{Nothing, Vector{Float64}},
    ntasks::Int,
)
    tasks = map(column_ranges(size(X, 2), ntasks)) do cols
        Threads.@spawn _sweep_columns!(U, X, cxyz, m, w, cols)
    end
    sums = zeros(Float64, 3, size(cxyz, 2))
    jm = 0.0
    change = 0.0
    for task in tasks
        s, j, ch = fetch(task)::Tuple{Matrix{Float64}, Float64, Float64}
        sums .+= s
        jm += j
        change = max(change, ch)
    end
    return sums, jm, change
end

function _sweep_columns!(
    U::Matrix{Float64},
    X::Matrix{Float64},
    cxyz::Matrix{Float64},
    m::Float64,
    w::Union{Nothing, Vector{Float64}},
    cols::UnitRange{Int},
)
    c = size(cxyz, 2)
    p = 2 / (m - 1)
    d = Vector{Float64}(undef, c)
    u = Vector{Float64}(undef, c)
    sums = zeros(Float64, 3, c)
    jm = 0.0
    change = 0.0
    @inbounds for i in cols
        x1, x2, x3 = X[1, i], X[2, i], X[3, i]
        for k in 1:c
            d[k] = vincenty_vectors(x1, x2, x3, cxyz[1, k], cxyz[2, k], cxyz[3, k])
        end
        membership_column!(u, d, p)
        wi = w === nothing ? 1.0 : w[i]
        for k in 1:c
            change = max(change, abs(u[k] - U[k, i]))
            U[k, i] = u[k]
            um = u[k]^m
            jm += um * (d[k] / ARCMIN)^2
            um *= wi
            sums[1, k] += um * x1
            sums[2, k] += um * x2
            sums[3, k] += um * x3
        end
    end
    return sums, jm, change
end

"""
    fcm_iterate(xyz, cxyz, m, tol, max_iter, weights)

The fuzzy c-means iterations from initial centres: memberships for the initial centres, then
centres (eq. 17) and memberships (eq. 18) until max |U_new - U_old| < tol or `max_iter`, as
the NumPy kernel `cosmocorr.backends.numpy_fcm.fcm_iterate` with `relax = 1`. Returns a
NamedTuple (centers (3 x c), membership (c x N: column i is object i), n_iter, objective
(J_m history, arcmin^2), converged). `xyz` (3 x N), `cxyz0` (3 x c) and `weights` (N or
`nothing`) may be PyArrays: they are copied into Julia arrays first.
"""
function fcm_iterate(
    xyz::AbstractMatrix,
    cxyz0::AbstractMatrix,
    m::Real,
    tol::Real,
    max_iter::Integer,
    weights,
)
    X = Matrix{Float64}(xyz)
    cxyz = Matrix{Float64}(cxyz0)
    w = weights === nothing ? nothing : Vector{Float64}(weights)
    size(X, 1) == 3 && size(cxyz, 1) == 3 ||
        throw(ArgumentError("xyz and cxyz must be 3 x N unit vectors"))
    w === nothing ||
        length(w) == size(X, 2) ||
        throw(ArgumentError("weights must have one entry per object"))
    m > 1 || throw(ArgumentError("the fuzziness m must be > 1, got $(m)"))
    mf = Float64(m)
    ntasks = max(1, min(Threads.nthreads(), size(X, 2)))
    U = zeros(Float64, size(cxyz, 2), size(X, 2))
    sums, jm, _ = fcm_sweep!(U, X, cxyz, mf, w, ntasks)
    history = [jm]
    converged = false
    it = 0
    for k in 1:max_iter
        it = k
        cxyz = renormalise(sums, cxyz)
        sums, jm, change = fcm_sweep!(U, X, cxyz, mf, w, ntasks)
        push!(history, jm)
        if change < tol
            converged = true
            break
        end
    end
    return (
        centers = cxyz,
        membership = U,
        n_iter = it,
        objective = history,
        converged = converged,
    )
end
