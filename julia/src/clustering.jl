# Fuzzy c-means on the sky (paper eqs. 15, 17, 18), mirroring
# cosmocorr/backends/numpy_fcm.fcm_iterate.

"""
    angular_distances(xyz, cxyz)

Vincenty distances (radians) between N objects (3 x N unit vectors) and c centres (3 x c): N x c.
"""
function angular_distances(xyz::AbstractMatrix, cxyz::AbstractMatrix)
    n = size(xyz, 2)
    c = size(cxyz, 2)
    T = promote_type(eltype(xyz), eltype(cxyz))
    d = Matrix{T}(undef, n, c)
    @inbounds for j in 1:c, i in 1:n
        d[i, j] = vincenty_vectors(
            xyz[1, i],
            xyz[2, i],
            xyz[3, i],
            cxyz[1, j],
            cxyz[2, j],
            cxyz[3, j],
        )
    end
    return d
end

"""
    memberships(d, m)

Eq. 18 as (d_min / d_ik)^p normalised per row, p = 2/(m-1); an object on a centre shares its
membership equally among the coincident centres.
"""
function memberships(d::AbstractMatrix, m::Real)
    p = 2 / (m - 1)
    U = similar(d)
    @inbounds for i in axes(d, 1)
        row = view(d, i, :)
        dmin = minimum(row)
        if dmin == 0
            for j in axes(d, 2)
                U[i, j] = row[j] == 0 ? one(eltype(d)) : zero(eltype(d))
            end
        else
            for j in axes(d, 2)
                U[i, j] = (dmin / row[j])^p
            end
        end
        s = sum(view(U, i, :))
        for j in axes(d, 2)
            U[i, j] /= s
        end
    end
    return U
end

"""
    update_centers(xyz, U, m, weights)

Eq. 17 on the sphere: the U^m-weighted mean of unit vectors, renormalised (3 x c).
"""
function update_centers(xyz::Matrix{Float64}, U::AbstractMatrix, m::Real, weights)
    um = U.^m
    if weights !== nothing
        um = um .* weights
    end
    # xyz is a Julia Matrix (fcm_iterate copies the PyArray it gets from Python), so this is a
    # BLAS product, not the generic fallback a PyArray operand would get
    v = Matrix{Float64}(undef, size(xyz, 1), size(um, 2))
    mul!(v, xyz, um)
    for j in axes(v, 2)
        nrm = sqrt(sum(abs2, view(v, :, j)))
        if nrm > 0
            v[:, j] ./= nrm
        end
    end
    return v
end

objective_arcmin2(d, U, m) = sum((U.^m) .* (d ./ ARCMIN).^2)

"""
    fcm_iterate(xyz, cxyz, m, tol, max_iter, weights)

The fuzzy c-means iterations from initial centres: returns a NamedTuple (centers, membership,
n_iter, objective (J_m history, arcmin^2), converged), as the NumPy kernel
`cosmocorr.backends.numpy_fcm.fcm_iterate` with `relax = 1`. `xyz` (3 x N), `cxyz0` (3 x c)
and `weights` (N or `nothing`) may be PyArrays: they are copied into Julia arrays first.
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
    d = angular_distances(X, cxyz)
    U = memberships(d, m)
    history = [objective_arcmin2(d, U, m)]
    converged = false
    it = 0
    for k in 1:max_iter
        it = k
        new = update_centers(X, U, m, w)
        for j in axes(new, 2)
            if all(iszero, view(new, :, j))
                new[:, j] .= view(cxyz, :, j)
            end
        end
        cxyz = new
        d = angular_distances(X, cxyz)
        Unew = memberships(d, m)
        push!(history, objective_arcmin2(d, Unew, m))
        change = maximum(abs, Unew .- U)
        U = Unew
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
