# Sparse fuzzy c-means: memberships on each object's k nearest centres (paper eqs. 15-18),
# mirroring cosmocorr/clustering/sparse_fcm.py (`sparse_fcm_iterate` with relax = 1) step for
# step, so that both give the same iterates up to rounding and the same n_iter.
#
# Layout: per object a column. The neighbour indices (1-based) and memberships are k x N, the
# reserve r x N; objects 3 x N, centres 3 x c. The objects are processed in blocks of `block`
# columns as in NumPy (two decisions are taken per block there and here: the zero-distance
# fallbacks of the memberships and of the swap-aware change), the blocks split into contiguous
# shares, one task (`Threads.@spawn`) per share; a task writes only its own columns and
# returns its own centre sums, J_m, change and counts, combined here in share order.
#
# The k-d tree queries of NumPy (scipy cKDTree on the centres) are a brute-force search here
# (`nearest!`): the m nearest centres by chord, ascending, ties broken by the lower index.
# Only exactly equal chords can order differently from cKDTree; see docs/julia.md.

const LAZY_PERIOD = 4      # sweeps between neighbour-set refreshes while centres move a lot
const LAZY_FRACTION = 0.05 # refresh share below which every sweep checks every set
const RESERVE = 4          # next-nearest centres kept per object

chord_to_angle(chord) = 2 * asin(min(0.5 * chord, 1.0))

"""
    gathered_angle(x1, x2, x3, c1, c2, c3)

Angle (radians, eq. 16) between an object and a centre as `_gathered_distances` in NumPy:
2 asin(|a - b| / 2) from the chord, and `atan(|a x b|, a . b)` beyond 90 degrees.
"""
@inline function gathered_angle(x1, x2, x3, c1, c2, c3)
    t1 = c1 - x1
    t2 = c2 - x2
    t3 = c3 - x3
    s = t1 * t1 + t2 * t2 + t3 * t3
    s > 2.0 && return vincenty_vectors(x1, x2, x3, c1, c2, c3)
    return 2 * asin(min(0.5 * sqrt(s), 1.0))
end

"""
    nearest!(idx, chord, x1, x2, x3, C)

The `length(idx)` nearest centres (columns of `C`, 3 x c) of the point (x1, x2, x3) by chord
(Euclidean distance of the unit vectors, monotonic in the angle): their indices into `idx` and
chords into `chord`, ascending, equal chords by ascending index. An insertion into a sorted
list, O(c) for the usual case of a far centre.
"""
function nearest!(
    idx::AbstractVector{Int},
    chord::AbstractVector{Float64},
    x1::Float64,
    x2::Float64,
    x3::Float64,
    C::Matrix{Float64},
)
    m = length(idx)
    filled = 0
    @inbounds for j in axes(C, 2)
        t1 = C[1, j] - x1
        t2 = C[2, j] - x2
        t3 = C[3, j] - x3
        s = t1 * t1 + t2 * t2 + t3 * t3
        if filled < m
            filled += 1
            pos = filled
        elseif s < chord[m]
            pos = m
        else
            continue
        end
        while pos > 1 && chord[pos - 1] > s
            chord[pos] = chord[pos - 1]
            idx[pos] = idx[pos - 1]
            pos -= 1
        end
        chord[pos] = s
        idx[pos] = j
    end
    @inbounds for q in 1:m
        chord[q] = sqrt(chord[q])
    end
    return idx, chord
end

"""
    SparseLayout(n, k, r)

One iterate (`_Layout` in NumPy): neighbour indices and memberships (k x N); per object the
sweep (`epoch`, 0-based as in NumPy) that found or re-based its set, a lower bound then on the
distance to every centre outside the set (`limit`), the reserve (r x N) and a lower bound then
on the distance to every centre outside set and reserve (`far`).
"""
struct SparseLayout
    idx::Matrix{Int}
    U::Matrix{Float64}
    limit::Vector{Float64}
    reserve::Matrix{Int}
    far::Vector{Float64}
    epoch::Vector{Int}
end

function SparseLayout(n::Int, k::Int, r::Int)
    return SparseLayout(
        zeros(Int, k, n),
        zeros(Float64, k, n),
        zeros(Float64, n),
        zeros(Int, r, n),
        zeros(Float64, n),
        zeros(Int, n),
    )
end

# A registered sweep: its centres, each centre's n_near nearest centres and their radius.
struct SparseEpoch
    centres::Matrix{Float64}
    near::Matrix{Int}
    radius::Vector{Float64}
end

# The triangle-inequality test data of the live epochs (`test` in NumPy): epoch e is in
# column slot[e + 1]; delta (c) how far each centre moved since, local the largest move among
# its n_near nearest centres then, top the largest move overall, rho the radius then.
struct SparseTest
    slot::Vector{Int}
    delta::Matrix{Float64}
    local_move::Matrix{Float64}
    top::Vector{Float64}
    rho::Matrix{Float64}
end

# What a sweep shares between its tasks: the centres, the epoch registered on first use (under
# a lock, as `this_epoch`), the test.
struct SparseSweep
    C::Matrix{Float64}
    prevC::Matrix{Float64}
    epoch::Int
    n_near::Int
    registry::Dict{Int, SparseEpoch}
    lock::ReentrantLock
    query::Bool
    test::Union{Nothing, SparseTest}
end

"""
    register_epoch!(sw)

`this_epoch` of NumPy: the first call in a sweep registers its centres with each centre's
n_near nearest centres (brute force) and their radius (the n_near-th nearest's angle times
1 - 1e-9, infinite when n_near = c).
"""
function register_epoch!(sw::SparseSweep)
    lock(sw.lock) do
        haskey(sw.registry, sw.epoch) && return nothing
        C = sw.C
        c = size(C, 2)
        near = Matrix{Int}(undef, sw.n_near, c)
        radius = Vector{Float64}(undef, c)
        chord = Vector{Float64}(undef, sw.n_near)
        for a in 1:c
            nearest!(view(near, :, a), chord, C[1, a], C[2, a], C[3, a], C)
            radius[a] = sw.n_near < c ? chord_to_angle(chord[end]) * (1 - 1.0e-9) : Inf
        end
        sw.registry[sw.epoch] = SparseEpoch(copy(C), near, radius)
        return nothing
    end
    return nothing
end

"""
    sparse_test(registry, L, C, epoch) -> SparseTest

For each sweep whose neighbour sets are still in use (`L.epoch`), drops the others from the
registry and computes the centres' moves since (times 1 + 1e-9, plus 1e-15), the largest
among each centre's n_near nearest centres then, the largest overall and the radius then.
"""
function sparse_test(
    registry::Dict{Int, SparseEpoch},
    L::SparseLayout,
    C::Matrix{Float64},
    epoch::Int,
)
    live = sort!(unique(L.epoch))
    for e in collect(keys(registry))
        e in live || delete!(registry, e)
    end
    c = size(C, 2)
    nl = length(live)
    slot = zeros(Int, epoch)
    delta = zeros(Float64, c, nl)
    local_move = zeros(Float64, c, nl)
    top = zeros(Float64, nl)
    rho = zeros(Float64, c, nl)
    for (s, e) in enumerate(live)
        slot[e + 1] = s
        then = registry[e]
        for a in 1:c
            t1 = C[1, a] - then.centres[1, a]
            t2 = C[2, a] - then.centres[2, a]
            t3 = C[3, a] - then.centres[3, a]
            delta[a, s] = chord_to_angle(sqrt(t1 * t1 + t2 * t2 + t3 * t3)) * (1 + 1.0e-9) +
                1.0e-15
        end
        top[s] = maximum(view(delta, :, s))
        for a in 1:c
            mv = 0.0
            for q in axes(then.near, 1)
                mv = max(mv, delta[then.near[q, a], s])
            end
            local_move[a, s] = mv
            rho[a, s] = then.radius[a]
        end
    end
    return SparseTest(slot, delta, local_move, top, rho)
end

# The tree query of NumPy for object i: (set, limit, reserve, far) into the given buffers (the
# caller registers the epoch first, `ensure_epoch!`).
function query_object!(
    I::AbstractVector{Int},
    res::AbstractVector{Int},
    nbuf::Vector{Int},
    cbuf::Vector{Float64},
    X::Matrix{Float64},
    i::Int,
    sw::SparseSweep,
    exact_sets::Bool,
)
    k = length(I)
    r = length(res)
    nearest!(nbuf, cbuf, X[1, i], X[2, i], X[3, i], sw.C)
    for q in 1:k
        I[q] = nbuf[q]
    end
    exact_sets && return Inf, Inf
    for q in 1:r
        res[q] = nbuf[k + q]
    end
    return chord_to_angle(cbuf[k + 1]), chord_to_angle(cbuf[k + r + 1])
end

# register_epoch! once per block (the lock is taken once per block, not per object)
function ensure_epoch!(sw::SparseSweep, registered::Base.RefValue{Bool})
    registered[] || register_epoch!(sw)
    registered[] = true
    return nothing
end

# Stable insertion sort of the permutation `order` by `d` (np.argsort(kind="stable")).
function stable_order!(order::Vector{Int}, d::Vector{Float64})
    for q in eachindex(order)
        order[q] = q
    end
    for q in 2:length(order)
        v = order[q]
        pos = q
        while pos > 1 && d[order[pos - 1]] > d[v]
            order[pos] = order[pos - 1]
            pos -= 1
        end
        order[pos] = v
    end
    return order
end

# max |U_new - U_old| over the union of the old and new sets of one object (`_union_change`).
function union_change(new_I, new_U, old_I, old_U)
    change = 0.0
    for q in eachindex(new_I)
        old_at_new = 0.0
        for t in eachindex(old_I)
            old_I[t] == new_I[q] && (old_at_new += old_U[t])
        end
        change = max(change, abs(new_U[q] - old_at_new))
    end
    for t in eachindex(old_I)
        any(==(old_I[t]), new_I) || (change = max(change, old_U[t]))
    end
    return change
end

"""
    sparse_block!(L, X, w, sw, rows, k, r, m, p, exact_sets) -> (sums, jm, change, requeried, flagged)

The NumPy sweep's `run` for one block of objects `rows`: sets from the query (first sweep) or
from `L`, distances, the triangle-inequality test with the reserve refill, swaps and
re-queries (`sw.test`), memberships (eq. 18), the change against `L.U`, and the eq. 17 sums
and J_m (eq. 15, arcmin^2, unweighted). Writes the block's columns of `L`.
"""
function sparse_block!(
    L::SparseLayout,
    X::Matrix{Float64},
    w::Union{Nothing, Vector{Float64}},
    sw::SparseSweep,
    rows::UnitRange{Int},
    k::Int,
    r::Int,
    m::Float64,
    p::Float64,
    exact_sets::Bool,
)
    C = sw.C
    c = size(C, 2)
    b = length(rows)
    I = Matrix{Int}(undef, k, b)
    res = Matrix{Int}(undef, r, b)
    lim = Vector{Float64}(undef, b)
    far = Vector{Float64}(undef, b)
    ep = Vector{Int}(undef, b)
    dk = Matrix{Float64}(undef, k, b)
    nq = exact_sets ? k : k + r + 1
    nbuf = Vector{Int}(undef, nq)
    cbuf = Vector{Float64}(undef, nq)
    requeried = 0
    flagged = 0
    registered = Ref(false)
    @inbounds for (j, i) in enumerate(rows)
        if sw.query
            ensure_epoch!(sw, registered)
            lim[j], far[j] = query_object!(
                view(I, :, j),
                view(res, :, j),
                nbuf,
                cbuf,
                X,
                i,
                sw,
                exact_sets,
            )
            ep[j] = sw.epoch
        else
            I[:, j] .= view(L.idx, :, i)
            res[:, j] .= view(L.reserve, :, i)
            lim[j], far[j], ep[j] = L.limit[i], L.far[i], L.epoch[i]
        end
        for q in 1:k
            a = I[q, j]
            dk[q, j] = gathered_angle(X[1, i], X[2, i], X[3, i], C[1, a], C[2, a], C[3, a])
        end
    end
    # rows whose set changed in this sweep: their old set and memberships
    redo = Int[]
    old_I = Matrix{Int}(undef, k, 0)
    old_U = Matrix{Float64}(undef, k, 0)
    test = sw.test
    if test !== nothing
        cand = Vector{Int}(undef, k + r)
        cand_d = Vector{Float64}(undef, k + r)
        order = Vector{Int}(undef, k + r)
        d_res = Vector{Float64}(undef, r)
        newset = Vector{Int}(undef, k)
        olds = Int[]
        oldu = Float64[]
        @inbounds for (j, i) in enumerate(rows)
            x1, x2, x3 = X[1, i], X[2, i], X[3, i]
            a = I[1, j]
            R = maximum(view(dk, :, j))
            s = test.slot[ep[j] + 1]
            reach = R + test.local_move[a, s]
            near = dk[1, j] + test.delta[a, s] + R + test.top[s] <= test.rho[a, s]
            (reach < lim[j]) & near && continue
            flagged += 1
            changed = false
            if r > 0 && (reach < far[j]) & near
                # refill from the reserve, re-based on this sweep without a query
                ensure_epoch!(sw, registered)
                bound = min(
                    far[j] - test.local_move[a, s],
                    test.rho[a, s] - dk[1, j] - test.delta[a, s] - test.top[s],
                )
                for q in 1:r
                    e = res[q, j]
                    d_res[q] = gathered_angle(x1, x2, x3, C[1, e], C[2, e], C[3, e])
                end
                nearest_res = minimum(d_res)
                far[j] = bound
                lim[j] = min(nearest_res, bound)
                ep[j] = sw.epoch
                if R > nearest_res
                    for q in 1:k
                        cand[q] = I[q, j]
                        cand_d[q] = dk[q, j]
                    end
                    for q in 1:r
                        cand[k + q] = res[q, j]
                        cand_d[k + q] = d_res[q]
                    end
                    stable_order!(order, cand_d)
                    for q in 1:k
                        newset[q] = cand[order[q]]
                    end
                    for q in 1:r
                        res[q, j] = cand[order[k + q]]
                    end
                    lim[j] = cand_d[order[k + 1]]
                    changed = true
                end
            else
                requeried += 1
                ensure_epoch!(sw, registered)
                lim[j], far[j] = query_object!(
                    newset,
                    view(res, :, j),
                    nbuf,
                    cbuf,
                    X,
                    i,
                    sw,
                    exact_sets,
                )
                ep[j] = sw.epoch
                # an unchanged set keeps its order, distances and plain change
                changed = sort(newset) != sort(view(I, :, j))
            end
            if changed
                push!(redo, j)
                append!(olds, view(I, :, j))
                append!(oldu, view(L.U, :, i))
                for q in 1:k
                    e = newset[q]
                    I[q, j] = e
                    dk[q, j] = gathered_angle(x1, x2, x3, C[1, e], C[2, e], C[3, e])
                end
            end
        end
        old_I = reshape(olds, k, length(redo))
        old_U = reshape(oldu, k, length(redo))
    end
    # squared angles; eq. 18 as `_memberships_cols`: with a zero distance anywhere in the
    # block, every column through `membership_column!` ((d_min / d)^p normalised)
    dk .= dk.^2
    u = similar(dk)
    if b > 0 && minimum(dk) == 0
        for j in 1:b
            membership_column!(view(u, :, j), sqrt.(view(dk, :, j)), p)
        end
    else
        @inbounds for j in 1:b
            t = 0.0
            for q in 1:k
                u[q, j] = p == 2.0 ? 1 / dk[q, j] : dk[q, j]^(-0.5 * p)
                t += u[q, j]
            end
            f = 1.0 / t
            for q in 1:k
                u[q, j] *= f
            end
        end
    end
    change = 0.0
    if !sw.query
        is_redo = falses(b)
        is_redo[redo] .= true
        @inbounds for (j, i) in enumerate(rows)
            is_redo[j] && continue
            for q in 1:k
                change = max(change, abs(u[q, j] - L.U[q, i]))
            end
        end
        isempty(redo) ||
            (
                change = max(
                    change,
                    swap_change(X, rows, redo, I, old_I, C, sw.prevC, p, u, old_U),
                )
            )
    end
    sums = zeros(Float64, 3, c)
    jm = 0.0
    @inbounds for (j, i) in enumerate(rows)
        L.U[:, i] .= view(u, :, j)
        L.idx[:, i] .= view(I, :, j)
        L.reserve[:, i] .= view(res, :, j)
        L.limit[i], L.far[i], L.epoch[i] = lim[j], far[j], ep[j]
        x1, x2, x3 = X[1, i], X[2, i], X[3, i]
        wi = w === nothing ? 1.0 : w[i]
        for q in 1:k
            um = m == 2.0 ? u[q, j] * u[q, j] : u[q, j]^m
            jm += um * dk[q, j]
            um *= wi
            e = I[q, j]
            sums[1, e] += um * x1
            sums[2, e] += um * x2
            sums[3, e] += um * x3
        end
    end
    return sums, jm / ARCMIN^2, change, requeried, flagged
end

"""
    swap_change(X, rows, redo, I, old_I, C, prevC, p, u, old_U)

`_swap_change` of NumPy for the rows `redo` of a block whose set changed: max |U_new - U_old|
over the union of old and new sets, each membership eq. 18 at its own sweep's centres with
that sweep's row normaliser (from the row's largest stored entry). With a zero distance
anywhere in the group, the stored values (`union_change`) for the whole group.
"""
function swap_change(X, rows, redo, I, old_I, C, prevC, p, u, old_U)
    k = size(I, 1)
    nr = length(redo)
    dn = Matrix{Float64}(undef, k + 1, nr)
    dd = Matrix{Float64}(undef, k + 1, nr)
    jn = Vector{Int}(undef, nr)
    jo = Vector{Int}(undef, nr)
    @inbounds for (t, j) in enumerate(redo)
        i = rows[j]
        x1, x2, x3 = X[1, i], X[2, i], X[3, i]
        jn[t] = argmax(view(u, :, j))
        jo[t] = argmax(view(old_U, :, t))
        for q in 1:(k + 1)
            e = q <= k ? old_I[q, t] : I[jn[t], j] # the old set at the new centres
            dn[q, t] = gathered_angle(x1, x2, x3, C[1, e], C[2, e], C[3, e])
            e = q <= k ? I[q, j] : old_I[jo[t], t] # the new set at the old centres
            dd[q, t] = gathered_angle(x1, x2, x3, prevC[1, e], prevC[2, e], prevC[3, e])
        end
    end
    if minimum(dn) == 0 || minimum(dd) == 0
        change = 0.0
        for (t, j) in enumerate(redo)
            change = max(
                change,
                union_change(
                    view(I, :, j),
                    view(u, :, j),
                    view(old_I, :, t),
                    view(old_U, :, t),
                ),
            )
        end
        return change
    end
    dn .= dn.^(-p)
    dd .= dd.^(-p)
    change = 0.0
    @inbounds for (t, j) in enumerate(redo)
        fn = u[jn[t], j] / dn[k + 1, t]
        fo = old_U[jo[t], t] / dd[k + 1, t]
        for q in 1:k
            change = max(
                change,
                abs(dn[q, t] * fn - old_U[q, t]),
                abs(dd[q, t] * fo - u[q, j]),
            )
        end
    end
    return change
end

"""
    sparse_fcm_iterate(xyz, cxyz0, m, tol, max_iter, neighbours, weights; block = nothing)

Fuzzy c-means with memberships on the `neighbours` (k) nearest centres, as
`cosmocorr.clustering.sparse_fcm.sparse_fcm_iterate` with `relax = 1`: memberships for the
initial centres, then centres (eq. 17) and memberships (eq. 18) until the swap-aware
max |U_new - U_old| < tol or `max_iter`; neighbour sets maintained by the lazy refresh
schedule, the triangle-inequality test, the reserve of `RESERVE` centres and re-queries.
`xyz` (3 x N), `cxyz0` (3 x c), `weights` (N or `nothing`). Returns a NamedTuple (centers
(3 x c), neighbours (k x N, 1-based), membership (k x N), n_iter, objective (J_m history,
arcmin^2), converged, requeried).
"""
function sparse_fcm_iterate(
    xyz::AbstractMatrix,
    cxyz0::AbstractMatrix,
    m::Real,
    tol::Real,
    max_iter::Integer,
    neighbours::Integer,
    weights;
    block = nothing,
)
    X = Matrix{Float64}(xyz)
    C = Matrix{Float64}(cxyz0)
    w = weights === nothing ? nothing : Vector{Float64}(weights)
    size(X, 1) == 3 && size(C, 1) == 3 ||
        throw(ArgumentError("xyz and cxyz must be 3 x N unit vectors"))
    w === nothing ||
        length(w) == size(X, 2) ||
        throw(ArgumentError("weights must have one entry per object"))
    m > 1 || throw(ArgumentError("the fuzziness m must be > 1, got $(m)"))
    n = size(X, 2)
    c = size(C, 2)
    k = Int(neighbours)
    1 <= k <= c || throw(ArgumentError("neighbours must be in 1:$(c), got $(k)"))
    mf = Float64(m)
    p = 2 / (mf - 1)
    bs = block === nothing ? max(64, min(n, div(65_536, k))) : Int(block)
    exact_sets = k >= c
    n_near = min(c, 3 * k + 1)
    r = exact_sets ? 0 : min(RESERVE, c - k - 1)
    blocks = [s:min(s + bs - 1, n) for s in 1:bs:n]
    shares = column_ranges(length(blocks), max(1, min(Threads.nthreads(), length(blocks))))
    registry = Dict{Int, SparseEpoch}()
    L = SparseLayout(n, k, r)
    # state shared with the closure `sweep` (Refs, so that the closure captures fixed bindings)
    exact = Ref(exact_sets)
    sweeps = Ref(0)
    requeried = Ref(0)

    function sweep(Cnow, prevC, query)
        epoch = sweeps[]
        sweeps[] += 1
        check = exact[] || epoch % LAZY_PERIOD == 0
        test = !query && !exact_sets && check ?
            sparse_test(registry, L, Cnow, epoch) :
            nothing
        sw = SparseSweep(Cnow, prevC, epoch, n_near, registry, ReentrantLock(), query, test)
        tasks = map(shares) do share
            Threads.@spawn begin
                s3 = zeros(Float64, 3, c)
                jt, ct, rt, ft = 0.0, 0.0, 0, 0
                for bi in share
                    sb, jb, cb, rb, fb = sparse_block!(
                        L,
                        X,
                        w,
                        sw,
                        blocks[bi],
                        k,
                        r,
                        mf,
                        p,
                        exact_sets,
                    )
                    s3 .+= sb
                    jt += jb
                    ct = max(ct, cb)
                    rt += rb
                    ft += fb
                end
                (s3, jt, ct, rt, ft)
            end
        end
        # `local`: the enclosing function has its own `sums` and `jm`, which an inner function
        # would otherwise assign to
        local sums = zeros(Float64, 3, c)
        local jm = 0.0
        local change = 0.0
        local flagged = 0
        for task in tasks
            s3, jt, ct, rt, ft = fetch(task)::Tuple{
                Matrix{Float64},
                Float64,
                Float64,
                Int,
                Int,
            }
            sums .+= s3
            jm += jt
            change = max(change, ct)
            requeried[] += rt
            flagged += ft
        end
        if !query && !exact_sets && !exact[]
            if check && flagged <= LAZY_FRACTION * n
                exact[] = true
            elseif !check
                change = Inf # sets not verified in this sweep: no convergence here
            end
        end
        return sums, jm, change
    end

    sums, jm, _ = sweep(C, C, true)
    history = [jm]
    converged = false
    it = 0
    for step in 1:max_iter
        it = step
        proposal = renormalise(sums, C)
        sums, jm, change = sweep(proposal, C, false)
        C = proposal
        push!(history, jm)
        if change < tol
            converged = true
            break
        end
    end
    return (
        centers = C,
        neighbours = L.idx,
        membership = L.U,
        n_iter = it,
        objective = history,
        converged = converged,
        requeried = requeried[],
    )
end
