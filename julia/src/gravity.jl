# The gravity forward model and the soft xi+ estimator, differentiable in G (paper sec. 6),
# mirroring cosmocorr/gravity.py and cosmocorr/differentiable.py (approaches "none" and "c").
# Written with broadcasting and comprehensions (no mutation outside the ODE right-hand side)
# so that ForwardDiff and Zygote (through SciMLSensitivity's adjoints) both go through.

"""
    gravity_rhs!(du, u, p, t)

dx/dt = v, dv/dt = -G M x / (|x|^2 + eps^2)^(3/2) for all bodies; `u` holds the 3N positions
(body-major) then the 3N velocities; `p = (G, M, eps^2)`.
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
    final_positions(G, x0, v0; M=1.0, softening=0.01, t_max=2pi, reltol=1e-10, abstol=1e-12)

Positions (3 x N) at `t_max` from positions/velocities `x0`, `v0` (3 x N), solved with Tsit5.
Differentiable in `G` with ForwardDiff (G a Dual: the state is promoted) and with Zygote.
"""
function final_positions(G, x0::AbstractMatrix, v0::AbstractMatrix; M=1.0, softening=0.01, t_max=2pi,
                         reltol=1e-10, abstol=1e-12)
    start = Float64.(vcat(vec(x0), vec(v0)))
    prob = ODEProblem(gravity_rhs!, start, (0.0, float(t_max)), [1.0, float(M), float(softening)^2])
    # u0 and p passed to solve (the SciMLSensitivity pattern); both carry G's type, so a
    # ForwardDiff Dual G promotes the whole state
    u0 = start .* one(G)
    p = [G, M * one(G), softening^2 * one(G)]
    sol = solve(prob, Tsit5(); u0=u0, p=p, saveat=[float(t_max)], reltol=reltol, abstol=abstol)
    n = size(x0, 2)
    return reshape(sol.u[end][1:3n], 3, n)
end

"""
    observed_unit_vectors(x; observer_distance=10.0)

Unit vectors (3 x N) from an observer at `observer_distance` along -x to the bodies.
"""
function observed_unit_vectors(x::AbstractMatrix; observer_distance=10.0)
    p = x .+ [observer_distance, 0.0, 0.0]
    return p ./ sqrt.(sum(p .^ 2; dims=1))
end

_sigmoid(x) = 1 / (1 + exp(-x))

"""
    soft_xi_plus(xyz, g1, g2, w, edges, alpha)

Soft-binned xi+ (paper eq. 8 with the sigmoid weights of eq. 22, `alpha` in 1/arcmin) over all
unordered pairs of the objects (`xyz` 3 x n unit vectors); shears are projected onto the great
circle joining each pair as in `_pair_terms` of cosmocorr/differentiable.py.
"""
function soft_xi_plus(xyz::AbstractMatrix, g1::AbstractVector, g2::AbstractVector, w::AbstractVector,
                      edges::AbstractVector, alpha)
    n = size(xyz, 2)
    ii = [i for i in 1:n for j in (i + 1):n]
    jj = [j for i in 1:n for j in (i + 1):n]
    ax, ay, az = xyz[1, ii], xyz[2, ii], xyz[3, ii]
    bx, by, bz = xyz[1, jj], xyz[2, jj], xyz[3, jj]
    cx = ay .* bz .- az .* by
    cy = az .* bx .- ax .* bz
    cz = ax .* by .- ay .* bx
    r = atan.(sqrt.(cx .^ 2 .+ cy .^ 2 .+ cz .^ 2), ax .* bx .+ ay .* by .+ az .* bz) ./ ARCMIN
    dz = az .- bz
    dsq = (ax .- bx) .^ 2 .+ (ay .- by) .^ 2 .+ dz .^ 2
    s = -cz
    cb = dz .+ 0.5 .* bz .* dsq
    ca = 0.5 .* az .* dsq .- dz
    nb = s .^ 2 .+ cb .^ 2
    na = s .^ 2 .+ ca .^ 2
    cos2b, sin2b = (s .^ 2 .- cb .^ 2) ./ nb, 2 .* s .* cb ./ nb
    cos2a, sin2a = (s .^ 2 .- ca .^ 2) ./ na, -2 .* s .* ca ./ na
    zar = g1[ii] .* cos2a .- g2[ii] .* sin2a
    zai = g1[ii] .* sin2a .+ g2[ii] .* cos2a
    zbr = g1[jj] .* cos2b .- g2[jj] .* sin2b
    zbi = g1[jj] .* sin2b .+ g2[jj] .* cos2b
    xp = zar .* zbr .+ zai .* zbi
    ww = w[ii] .* w[jj]
    weights = [_sigmoid.(alpha .* (r .- edges[k])) .* _sigmoid.(alpha .* (edges[k + 1] .- r)) for k in 1:(length(edges) - 1)]
    return [sum(W .* ww .* xp) / sum(W .* ww) for W in weights]
end

"""
    clustered_objects(xyz, g1, g2, labels)

Approach (c): one object per used label at the normalised mean position of its members, with
their mean shears and the member count as weight (the clustering itself is held fixed).
"""
function clustered_objects(xyz::AbstractMatrix, g1::AbstractVector, g2::AbstractVector, labels::AbstractVector)
    used = sort(unique(labels))
    A = Float64[labels[i] == u for i in eachindex(labels), u in used]     # one-hot, fixed
    counts = vec(sum(A; dims=1))
    m = xyz * A
    pos = m ./ sqrt.(sum(m .^ 2; dims=1))
    return pos, (A' * g1) ./ counts, (A' * g2) ./ counts, counts
end

"""
    xi_plus_value(G, x0, v0, g1, g2, edges, alpha; labels=nothing, kwargs...)

xi+ per bin of the forward model at `G`: exact soft estimator over all galaxy pairs, or over
cluster objects (approach c) when `labels` (1-based) are given. `kwargs` go to `final_positions`
(and `observer_distance` to `observed_unit_vectors`).
"""
function xi_plus_value(G, x0, v0, g1, g2, edges, alpha; labels=nothing, observer_distance=10.0, kwargs...)
    xyz = observed_unit_vectors(final_positions(G, x0, v0; kwargs...); observer_distance=observer_distance)
    if labels === nothing
        return soft_xi_plus(xyz, g1, g2, ones(length(g1)), edges, alpha)
    end
    pos, c1, c2, counts = clustered_objects(xyz, g1, g2, labels)
    return soft_xi_plus(pos, c1, c2, counts, edges, alpha)
end

"""
    xi_plus_gradient(G, x0, v0, g1, g2, edges, alpha; mode=:forward, labels=nothing, kwargs...)

(xi, dxi_dG) per bin: `mode=:forward` differentiates the ODE solve and the estimator with
ForwardDiff; `mode=:reverse` with Zygote (adjoint sensitivities of the solve via SciMLSensitivity),
the paper's comparison.
"""
function xi_plus_gradient(G, x0, v0, g1, g2, edges, alpha; mode=:forward, labels=nothing, kwargs...)
    f = g -> xi_plus_value(g, x0, v0, g1, g2, edges, alpha; labels=labels, kwargs...)
    xi = f(G)
    if mode === :forward
        return (xi=xi, dxi_dG=ForwardDiff.derivative(f, G))
    elseif mode === :reverse
        return (xi=xi, dxi_dG=vec(Zygote.jacobian(f, G)[1]))
    end
    throw(ArgumentError("mode must be :forward or :reverse, got $(mode)"))
end
