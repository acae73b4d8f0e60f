# Checks of the CosmoCorr module that need no Python: analytic cases, finite differences and
# the two AD modes against each other (the reverse mode through the package extension
# CosmoCorrReverseExt, loaded here with its weak dependencies). Run with `Pkg.test("CosmoCorr")` (or
# `julia --project=julia -e 'using Pkg; Pkg.test()'` from the repository root).

using CosmoCorr
using Random
using Test
# the weak dependencies of the reverse-mode extension (in the test target): loading them loads
# CosmoCorrReverseExt
using SciMLSensitivity: SciMLSensitivity
using Zygote: Zygote

const CC = CosmoCorr
const FD = CosmoCorr.ForwardDiff
const ZY = Zygote

unit(ra, dec) = [cosd(dec) * cosd(ra), cosd(dec) * sind(ra), sind(dec)]
unit_matrix(ra, dec) = reduce(hcat, [unit(a, d) for (a, d) in zip(ra, dec)])

function central_difference(f, x, h)
    return (f(x + h) .- f(x - h)) ./ (2h)
end

# Richardson extrapolation of central differences: D(h) = f'(x) + c h^2 + O(h^4), so
# R = (4 D(h/2) - D(h)) / 3 = f'(x) + O(h^4). Returns R and the tolerance to test a derivative
# against it: 2 |D(h) - D(h/2)| (the O(h^2) error estimate of the cruder difference, which also
# carries the ODE solver's noise divided by h of both) + 1e-6 |R| + 1e-9. A plain central
# difference at h = 1e-4 against rtol 1e-4 failed this test for 43 of 200 random body sets in
# the NumPy replica `benchmarks/julia_fd_tolerances.py`; this check failed none (largest
# relative error of R 3e-6).
function richardson_difference(f, x, h)
    d1 = central_difference(f, x, h)
    d2 = central_difference(f, x, h / 2)
    r = (4 .* d2 .- d1) ./ 3
    return r, 2 .* abs.(d1 .- d2) .+ 1.0e-6 .* abs.(r) .+ 1.0e-9
end

# Two adaptive solves at reltol 1e-10 (a Float64 one, and a Dual one whose error norm also
# weighs the partials, so it takes other steps) agree to their global errors, not to rounding:
# in the NumPy replica xi+ changed by up to 6e-9 (relative) between rtol 1e-10 and 1e-11
# solves. Values from different solves are compared at this relative tolerance.
const SOLVE_RTOL = 1.0e-6

# seeded bodies with near-circular orbits around the centre (as the Python forward model)
function bodies(n, seed)
    rng = Xoshiro(seed)
    x0 = zeros(3, n)
    v0 = zeros(3, n)
    for i in 1:n
        r = 0.5 + rand(rng)
        u = randn(rng, 3)
        u ./= sqrt(sum(abs2, u))
        t = randn(rng, 3)
        t .-= sum(t .* u) .* u
        t ./= sqrt(sum(abs2, t))
        x0[:, i] = r .* u
        v0[:, i] = sqrt(1 / r) .* t
    end
    return x0, v0, 0.2 .* randn(rng, n), 0.2 .* randn(rng, n)
end

# sorted pair separations (arcmin) of unit vectors, and three bins holding an eighth of them
# each: the last edge then lies well below the largest separation (for random bodies seen from
# 3 R, more than 709 arcmin below it in all but ~1 in 5000 configurations; with fifths, 1 in 25
# would miss the check below)
function separations_and_edges(xyz)
    ii, jj = CC.pair_indices(size(xyz, 2))
    r = sort([
        CC.vincenty_vectors(xyz[:, i]..., xyz[:, j]...) / CC.ARCMIN
        for (i, j) in zip(ii, jj)
    ])
    q = max(1, length(r) ÷ 8)
    return r, [0.0, r[q], r[2q], r[3q]]
end

@testset "CosmoCorr" begin
    @testset "reverse-mode extension" begin
        ext = Base.get_extension(CosmoCorr, :CosmoCorrReverseExt)
        @test ext !== nothing
        @test CC.reverse_mode_loaded()
        @test hasmethod(CC.reverse_gradient, Tuple{NamedTuple, Float64})
        @test ext.REVERSE_SENSEALG isa SciMLSensitivity.InterpolatingAdjoint
    end

    @testset "separations (eq. 16)" begin
        @test CC.separation(0.0, 0.0, 0.0, 1.0) ≈ 60.0
        @test CC.separation(10.0, 0.0, 100.0, 0.0) ≈ 90 * 60
        @test CC.separation(0.0, 0.0, 180.0, 0.0) ≈ 180 * 60
        @test CC.separation(0.0, 90.0, 123.0, 90.0) ≈ 0.0 atol = 1.0e-9
        @test CC.separation(0.0, -90.0, 0.0, 90.0) ≈ 180 * 60
        # tiny separations keep full relative precision (the point of Vincenty's form)
        @test CC.separation(0.0, 0.0, 1.0e-7, 0.0) ≈ 6.0e-6 rtol = 1.0e-9
        ra1, dec1, ra2, dec2 = 20.0, -30.0, 75.0, 40.0
        r = CC.separation(ra1, dec1, ra2, dec2)
        @test r ≈ CC.separation(ra2, dec2, ra1, dec1)
        # spherical law of cosines, well conditioned at this separation
        c = sind(dec1) * sind(dec2) + cosd(dec1) * cosd(dec2) * cosd(ra2 - ra1)
        @test r ≈ acosd(c) * 60 rtol = 1.0e-12
        a, b = unit(ra1, dec1), unit(ra2, dec2)
        @test CC.vincenty_vectors(a..., b...) / CC.ARCMIN ≈ r rtol = 1.0e-12
        @test CC.separation([0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 2.0]) ≈ [60.0, 120.0]
    end

    @testset "bins (TreeCorr convention)" begin
        @test CC.bin_index(5.0, 0.0, 60.0, 6, false) == 1
        @test CC.bin_index(15.0, 0.0, 60.0, 6, false) == 2
        @test CC.bin_index(59.999, 0.0, 60.0, 6, false) == 6
        @test CC.bin_index(60.0, 0.0, 60.0, 6, false) == 0
        @test CC.bin_index(0.0, 0.0, 60.0, 6, false) == 0
        @test CC.bin_index(-1.0, 0.0, 60.0, 6, false) == 0
        @test CC.bin_index(5.0, 1.0, 100.0, 2, true) == 1
        @test CC.bin_index(11.0, 1.0, 100.0, 2, true) == 2
        @test CC.bin_index(99.0, 1.0, 100.0, 2, true) == 2
        @test CC.bin_index(0.5, 1.0, 100.0, 2, true) == 0
        @test CC.bin_index([5.0, 15.0, 70.0], 0.0, 60.0, 6, false) == [1, 2, 0]
    end

    @testset "pair sums" begin
        # three points on the equator at 0, 5 and 22 arcmin: separations 5, 22 and 17
        xyz = unit_matrix([0.0, 5 / 60, 22 / 60], [0.0, 0.0, 0.0])
        w = [1.0, 2.0, 3.0]
        s = CC.pair_sums(xyz, w, nothing, xyz, w, nothing, 0.0, 30.0, 3, false, true)
        @test keys(s) == (:npairs, :weight, :wr)
        @test s.npairs == [1.0, 1.0, 1.0]
        @test s.weight == [2.0, 6.0, 3.0]
        @test s.wr ≈ [2 * 5.0, 6 * 17.0, 3 * 22.0]
        # cross-correlation of the first point with all three: r = 0 is never a pair
        c = CC.pair_sums(
            xyz[:, 1:1],
            w[1:1],
            nothing,
            xyz,
            w,
            nothing,
            0.0,
            30.0,
            3,
            false,
            false,
        )
        @test c.npairs == [1.0, 0.0, 1.0]
        # along the equator the great circle runs east-west: the projection is the identity,
        # so a pure e1 field gives xi+ = xi- = g^2 and a pure e2 field xi+ = -xi- = g^2
        for (g, sign_m) in ((0.1 + 0.0im, 1.0), (0.1im, -1.0))
            gs = fill(g, 3)
            t = CC.pair_sums(xyz, w, gs, xyz, w, gs, 0.0, 30.0, 3, false, true)
            @test t.xip ≈ 0.01 .* s.weight
            @test t.xim ≈ sign_m * 0.01 .* s.weight
            @test all(abs.(t.xip_im) .< 1.0e-15) && all(abs.(t.xim_im) .< 1.0e-15)
        end
        # random catalog: the task-parallel sums equal a plain double loop, and dealing rows
        # out interleaved covers every row exactly once
        rng = Xoshiro(3)
        n = 200
        ra, dec = 10 .* rand(rng, n), 10 .* rand(rng, n)
        X = unit_matrix(ra, dec)
        ww = rand(rng, n)
        gg = complex.(0.3 .* randn(rng, n), 0.3 .* randn(rng, n))
        got = CC.pair_sums(X, ww, gg, X, ww, gg, 1.0, 400.0, 8, true, true)
        ref = zeros(8)
        refw = zeros(8)
        for i in 1:n, j in (i + 1):n
            k = CC.bin_index(
                CC.separation(ra[i], dec[i], ra[j], dec[j]),
                1.0,
                400.0,
                8,
                true,
            )
            k == 0 && continue
            ref[k] += 1
            refw[k] += ww[i] * ww[j]
        end
        @test got.npairs == ref
        @test got.weight ≈ refw rtol = 1.0e-12
        one_task = CC._pair_rows(1, 1, X, ww, gg, X, ww, gg, 1.0, 400.0, 8, true, true, 7)
        three = sum(
            CC._pair_rows(t, 3, X, ww, gg, X, ww, gg, 1.0, 400.0, 8, true, true, 7)
            for t in 1:3
        )
        @test three ≈ one_task rtol = 1.0e-12
        @test [got.xip got.xim]' ≈ one_task[[4, 6], :] rtol = 1.0e-12
        @test_throws ArgumentError CC.pair_sums(
            X,
            ww,
            gg,
            X,
            ww,
            nothing,
            1.0,
            400.0,
            8,
            true,
            true,
        )
    end

    @testset "field pair sums (NK, KK, NG, KG)" begin
        rng = Xoshiro(21)
        n = 120
        ra, dec = 10 .* rand(rng, n), 10 .* rand(rng, n)
        X = unit_matrix(ra, dec)
        ww = rand(rng, n)
        kappa = complex.(randn(rng, n))
        gg = complex.(0.3 .* randn(rng, n), 0.3 .* randn(rng, n))
        # a double loop with the separations of eq. 16 in degrees and the column rotation written
        # through spin2_rotations (the shear-shear projection: minus its factor at b)
        for (kind, f1, f2, auto) in (
                ("scalar", kappa, kappa, true),
                ("scalar", ones(ComplexF64, n), kappa, false),
                ("spin2", ones(ComplexF64, n), gg, false),
                ("spin2", kappa, gg, false),
            )
            got = CC.field_pair_sums(
                X,
                ww,
                f1,
                X,
                ww,
                f2,
                kind,
                1.0,
                400.0,
                6,
                true,
                auto;
                logr = true,
            )
            ref = zeros(6, 6)
            for i in 1:n, j in (auto ? i + 1 : 1):n
                r = CC.separation(ra[i], dec[i], ra[j], dec[j])
                k = CC.bin_index(r, 1.0, 400.0, 6, true)
                k == 0 && continue
                rot = if kind == "spin2"
                    _, _, c2b, s2b = CC.spin2_rotations(
                        X[:, i]...,
                        X[:, j]...,
                        X[:, i]' * X[:, j],
                    )
                    -complex(c2b, s2b)
                else
                    1.0
                end
                z = ww[i] * ww[j] * f1[i] * f2[j] * rot
                ref[:, k] .+= (
                    1,
                    ww[i] * ww[j],
                    ww[i] * ww[j] * r,
                    ww[i] * ww[j] * log(r),
                    real(z),
                    imag(z),
                )
            end
            @test got.npairs == ref[1, :]
            @test [got.weight got.wr got.wlogr]' ≈ ref[2:4, :] rtol = 1.0e-10
            @test [got.xi got.xi_im]' ≈ ref[5:6, :] rtol = 1.0e-7 atol = 1.0e-8
        end
        # without logr: the NumPy kernel's names and order
        s = CC.field_pair_sums(
            X,
            ww,
            kappa,
            X,
            ww,
            kappa,
            "scalar",
            1.0,
            400.0,
            6,
            true,
            true,
        )
        @test keys(s) == (:npairs, :weight, :wr, :xi, :xi_im)
        # TreeCorr's tangential shear: a source north of the lens elongated along RA (g1 > 0),
        # or east of it elongated along Dec (g1 < 0), has gamma_t = |g| and gamma_x = 0
        lens = unit_matrix([0.0], [0.0])
        for (sra, sdec, g) in ((0.0, 1 / 6, 0.1), (1 / 6, 0.0, -0.1), (0.0, -1 / 6, 0.1))
            src = unit_matrix([sra], [sdec])
            t = CC.field_pair_sums(
                lens,
                [1.0],
                [1.0 + 0im],
                src,
                [1.0],
                [g + 0im],
                "spin2",
                1.0,
                60.0,
                1,
                false,
                false,
            )
            @test t.xi ≈ [0.1] rtol = 1.0e-12
            @test abs(t.xi_im[1]) < 1.0e-14
        end
        @test_throws ArgumentError CC.field_pair_sums(
            X,
            ww,
            gg,
            X,
            ww,
            gg,
            "spin2",
            1.0,
            400.0,
            6,
            true,
            true,
        )
    end

    @testset "fuzzy c-means (eqs. 17, 18)" begin
        # memberships (c x N, a column per object): equal distances share equally; an object
        # on a centre belongs to it
        U = CC.memberships([1.0 0.0 1.0; 1.0 2.0 2.0], 2.0)
        @test U[:, 1] ≈ [0.5, 0.5]
        @test U[:, 2] == [1.0, 0.0]
        @test U[:, 3] ≈ [0.8, 0.2] # (1/1)^2 : (1/2)^2 normalised
        # two tight clumps: the centres converge to the clumps' normalised mean positions
        rng = Xoshiro(7)
        ra = vcat(10 .+ 0.1 .* randn(rng, 40), 40 .+ 0.1 .* randn(rng, 40))
        dec = vcat(0.1 .* randn(rng, 40), 20 .+ 0.1 .* randn(rng, 40))
        X = unit_matrix(ra, dec)
        init = unit_matrix([12.0, 35.0], [1.0, 18.0])
        out = CC.fcm_iterate(X, init, 2.0, 1.0e-10, 200, nothing)
        @test out.converged
        for (k, rows) in enumerate((1:40, 41:80))
            m = vec(sum(X[:, rows]; dims = 2))
            @test out.centers[:, k] ≈ m ./ sqrt(sum(abs2, m)) atol = 1.0e-5
            @test all(out.membership[k, rows] .> 0.999)
        end
        # one sweep: the threaded, column-wise pass equals distances + eq. 18 + the eq. 17 sums
        # written out directly, for one task and for three
        U1 = zeros(2, 80)
        s1, j1, _ = CC.fcm_sweep!(U1, X, init, 2.0, nothing, 1)
        U3 = zeros(2, 80)
        s3, j3, _ = CC.fcm_sweep!(U3, X, init, 2.0, nothing, 3)
        dd = CC.angular_distances(X, init)
        Ud = CC.memberships(dd, 2.0)
        @test U1 ≈ Ud rtol = 1.0e-12
        @test U3 == U1
        @test s1 ≈ X * (Ud.^2)' rtol = 1.0e-12
        @test s3 ≈ s1 rtol = 1.0e-12
        @test j1 ≈ sum(Ud.^2 .* (dd ./ CC.ARCMIN).^2) rtol = 1.0e-12
        @test j3 ≈ j1 rtol = 1.0e-12
        @test CC.column_ranges(7, 3) == [1:2, 3:4, 5:7]
        @test CC.column_ranges(2, 3) == [1:0, 1:1, 2:2]
        @test out.objective[end] < out.objective[1]
        @test length(out.objective) == out.n_iter + 1
        # J_m of the final state from its definition (c x N, as the memberships)
        d = [CC.vincenty_vectors(X[:, i]..., out.centers[:, k]...) for k in 1:2, i in 1:80]
        @test out.objective[end] ≈
            sum(out.membership.^2 .* (d ./ CC.ARCMIN).^2) rtol = 1.0e-8
        # integer weights act as repeated objects
        w = ones(80)
        w[1] = 3.0
        Xrep = hcat(X, X[:, 1], X[:, 1])
        a = CC.fcm_iterate(X, init, 2.0, 1.0e-12, 500, w)
        b = CC.fcm_iterate(Xrep, init, 2.0, 1.0e-12, 500, nothing)
        @test a.centers ≈ b.centers atol = 1.0e-9
    end

    @testset "sparse fuzzy c-means (eqs. 15-18 on the k nearest centres)" begin
        # the brute-force query: the m nearest centres by chord, ascending, equal chords by index
        rng = Xoshiro(11)
        Cr = randn(rng, 3, 50)
        Cr ./= sqrt.(sum(abs2, Cr; dims = 1))
        x = Cr[:, 7] .+ 0.1 .* randn(rng, 3)
        x ./= sqrt(sum(abs2, x))
        chords = [sqrt(sum(abs2, Cr[:, j] .- x)) for j in 1:50]
        idx, ch = CC.nearest!(zeros(Int, 9), zeros(9), x..., Cr)
        @test idx == sortperm(chords)[1:9]
        @test ch ≈ sort(chords)[1:9] rtol = 1.0e-14
        Ct = hcat(Cr[:, 3], Cr[:, 1], Cr[:, 3], Cr[:, 2])
        @test CC.nearest!(zeros(Int, 2), zeros(2), Cr[:, 3]..., Ct)[1] == [1, 3]
        @test CC.stable_order!(zeros(Int, 5), [1.0, 0.5, 1.0, 0.5, 0.2]) == [5, 2, 4, 1, 3]

        # a tiny field from Kronecker sequences (uniform, or 12 clumps); starting centres are
        # normalised sums of two objects (no object on a centre)
        function kronecker_field(n, c, clumps)
            i = 1:n
            a = mod.(i .* 0.7548776662466927, 1.0)
            b = mod.(i .* 0.5698402909980532, 1.0)
            if clumps
                g = mod.(i .- 1, c) .+ 1
                ra = 10 .+ 3 .* mod.(g .* 0.6180339887498949, 1.0) .+ 0.15 .* (a .- 0.5)
                dec = 3 .* mod.(g .* 0.4142135623730951, 1.0) .+ 0.15 .* (b .- 0.5)
            else
                ra = 10 .+ 2 .* a
                dec = 2 .* b .- 1
            end
            X = unit_matrix(ra, dec)
            sel = (0:(c - 1)) .* div(n, c) .+ 1
            C0 = X[:, sel] .+ X[:, sel .+ 1]
            return X, C0 ./ sqrt.(sum(abs2, C0; dims = 1))
        end
        # the plain double loop: one eq. 18 + eq. 17 step with every object's k nearest centres
        # found by sorting its Vincenty distances to all c centres
        function plain_step(X, C, m, k)
            c, n = size(C, 2), size(X, 2)
            p = 2 / (m - 1)
            sums = zeros(3, c)
            idx = zeros(Int, k, n)
            U = zeros(k, n)
            jm = 0.0
            for i in 1:n
                d = [CC.vincenty_vectors(X[:, i]..., C[:, j]...) for j in 1:c]
                S = sortperm(d)[1:k]
                u = d[S].^(-p)
                u ./= sum(u)
                idx[:, i] = S
                U[:, i] = u
                for q in 1:k
                    sums[:, S[q]] .+= u[q]^m .* X[:, i]
                    jm += u[q]^m * (d[S[q]] / CC.ARCMIN)^2
                end
            end
            nrm = sqrt.(sum(abs2, sums; dims = 1))
            Cn = [nrm[j] > 0 ? sums[r, j] / nrm[j] : C[r, j] for r in 1:3, j in 1:c]
            return Cn, idx, U, jm
        end
        function dense(idx, U, c)
            D = zeros(c, size(idx, 2))
            for i in axes(idx, 2), q in axes(idx, 1)
                D[idx[q, i], i] = U[q, i]
            end
            return D
        end

        # k = c: every sweep is the plain step (6 iterations, tol 0: not converged)
        X, C0 = kronecker_field(240, 12, false)
        out = CC.sparse_fcm_iterate(X, C0, 2.0, 0.0, 6, 12, nothing; block = 64)
        @test !out.converged && out.n_iter == 6 && out.requeried == 0
        C = C0
        history = Float64[]
        for it in 0:6
            Cn, idx, U, jm = plain_step(X, C, 2.0, 12)
            push!(history, jm)
            if it == 6
                @test dense(out.neighbours, out.membership, 12) ≈
                    dense(idx, U, 12) atol = 1.0e-11
            else
                C = Cn
            end
        end
        @test out.centers ≈ C atol = 1.0e-12
        @test out.objective ≈ history rtol = 1.0e-12

        # k < c: the sets change (refreshes, reserve refills, re-queries) until convergence; at
        # the kernel's centres the plain step finds the same k nearest centres, the same
        # memberships and J_m, and leaves the centres where they are (a fixed point). In a
        # NumPy port of both, the differences were <= 2e-14 (memberships), 6e-15 (centres).
        for (k, clumps) in ((4, false), (3, false), (4, true))
            X, C0 = kronecker_field(240, 12, clumps)
            out = CC.sparse_fcm_iterate(X, C0, 2.0, 1.0e-12, 3000, k, nothing; block = 64)
            @test out.converged
            @test out.requeried > 0
            @test all(sum(out.membership; dims = 1) .≈ 1)
            Cn, idx, U, jm = plain_step(X, out.centers, 2.0, k)
            @test sort(out.neighbours; dims = 1) == sort(idx; dims = 1)
            @test dense(out.neighbours, out.membership, 12) ≈
                dense(idx, U, 12) atol = 1.0e-12
            @test jm ≈ out.objective[end] rtol = 1.0e-12
            @test Cn ≈ out.centers atol = 1.0e-10
            @test length(out.objective) == out.n_iter + 1
        end
    end

    @testset "circular orbit" begin
        # softened point mass: circular speed v^2 = G M r^2 / (r^2 + soft^2)^(3/2)
        soft = 0.01
        r = 1.0
        v = sqrt(r^2 / (r^2 + soft^2)^1.5)
        period = 2pi * r / v
        x0 = reshape([r, 0.0, 0.0], 3, 1)
        v0 = reshape([0.0, v, 0.0], 3, 1)
        @test CC.final_positions(1.0, x0, v0; softening = soft, t_max = period) ≈
            x0 atol = 1.0e-7
        @test CC.final_positions(1.0, x0, v0; softening = soft, t_max = period / 4) ≈
            reshape([0.0, r, 0.0], 3, 1) atol = 1.0e-7
        # a second body on the same circle, a quarter turn ahead, stays a quarter turn ahead
        x2 = [r 0.0; 0.0 r; 0.0 0.0]
        v2 = [0.0 -v; v 0.0; 0.0 0.0]
        @test CC.final_positions(1.0, x2, v2; softening = soft, t_max = period / 2) ≈
            -x2 atol = 1.0e-7
    end

    @testset "stable logistic (eq. 22 weights)" begin
        for x in (-1000.0, -800.0, -30.0, -1.0, 0.0, 2.5, 40.0, 1000.0)
            @test CC.logistic(x) ≈ 1 / (1 + exp(-x)) rtol = 1.0e-14
            d = FD.derivative(CC.logistic, x)
            @test isfinite(d)
            @test d ≈ CC.logistic(x) * CC.logistic(-x) rtol = 1.0e-12
        end
        # the naive form's derivative is NaN there, which is what made dxi/dG NaN at alpha = 1
        @test isnan(FD.derivative(x -> 1 / (1 + exp(-x)), -800.0))
        # Zygote's dual-number broadcast goes through the same code
        g = ZY.gradient(x -> sum(CC.logistic.(x)), [-800.0, 0.0, 800.0])[1]
        @test g ≈ [0.0, 0.25, 0.0]
    end

    @testset "soft sums: tiled loop vs all pairs at once; pullback vs ForwardDiff" begin
        rng = Xoshiro(12)
        n = 15
        X = unit_matrix(3 .* rand(rng, n), 3 .* rand(rng, n))
        g1, g2, w = 0.2 .* randn(rng, n), 0.2 .* randn(rng, n), 1 .+ rand(rng, n)
        edges = [0.0, 40.0, 90.0, 250.0]
        S = CC.soft_pair_sums(X, g1, g2, w, edges, 0.1)
        # reference: every pair's terms from the index lists, the nbins x npairs weight matrix
        ii, jj = CC.pair_indices(n)
        terms = [
            CC.soft_pair_terms(X[:, i]..., X[:, j]..., g1[i], g2[i], g1[j], g2[j])
            for (i, j) in zip(ii, jj)
        ]
        r = first.(terms)
        xp = last.(terms)
        W = [CC.soft_weight(rq, edges[k], edges[k + 1], 0.1) for k in 1:3, rq in r]
        ww = w[ii] .* w[jj]
        @test S[1, :] ≈ W * (ww .* xp) rtol = 1.0e-12
        @test S[2, :] ≈ W * ww rtol = 1.0e-12
        # r from the pair terms is eq. 16
        @test r[1] ≈ CC.vincenty_vectors(X[:, 1]..., X[:, 2]...) / CC.ARCMIN rtol = 1.0e-12
        # the pullback (used by the rrule) against ForwardDiff of <D, S> in every input
        D = randn(rng, 2, 3)
        dxyz, dg1, dg2, dw = CC.soft_pair_sums_vjp(D, X, g1, g2, w, edges, 0.1)
        score = (x, a, b, c) -> sum(D .* CC.soft_pair_sums(x, a, b, c, edges, 0.1))
        @test dxyz ≈ FD.gradient(x -> score(x, g1, g2, w), X) rtol = 1.0e-10
        @test dg1 ≈ FD.gradient(a -> score(X, a, g2, w), g1) rtol = 1.0e-10
        @test dg2 ≈ FD.gradient(b -> score(X, g1, b, w), g2) rtol = 1.0e-10
        @test dw ≈ FD.gradient(c -> score(X, g1, g2, c), w) rtol = 1.0e-10
    end

    @testset "soft xi+: Zygote (through the soft sums' rrule) vs ForwardDiff" begin
        rng = Xoshiro(11)
        n = 12
        X = unit_matrix(2 .* rand(rng, n), 2 .* rand(rng, n))
        g1, g2, w = 0.2 .* randn(rng, n), 0.2 .* randn(rng, n), 1 .+ rand(rng, n)
        edges = [0.0, 40.0, 80.0, 200.0]
        f = x -> sum(abs2, CC.soft_xi_plus(reshape(x, 3, n), g1, g2, w, edges, 1.0))
        gz = ZY.gradient(f, vec(X))[1]
        gf = FD.gradient(f, vec(X))
        @test all(isfinite, gf)
        @test gz ≈ gf rtol = 1.0e-8
        # large alpha: the soft estimator tends to the hard-binned weighted mean of xi+ terms
        hard = CC.pair_sums(
            X,
            w,
            complex.(g1, g2),
            X,
            w,
            complex.(g1, g2),
            0.0,
            200.0,
            5,
            false,
            true,
        )
        soft = CC.soft_xi_plus(X, g1, g2, w, collect(0.0:40.0:200.0), 1.0e6)
        ok = hard.npairs .> 0
        @test soft[ok] ≈ (hard.xip ./ hard.weight)[ok] rtol = 1.0e-6
    end

    @testset "d xi+/d G: ForwardDiff vs finite differences, Zygote vs ForwardDiff" begin
        x0, v0, g1, g2 = bodies(10, 5)
        # a nearby observer (3 R) spreads the pairs over ~3000 arcmin
        kw = (softening = 0.01, t_max = 0.5, observer_distance = 3.0)
        xyz = CC.observed_unit_vectors(
            CC.final_positions(1.0, x0, v0; softening = 0.01, t_max = 0.5),
            3.0,
        )
        for labels in (nothing, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
            # bins from the objects' separations at G = 1, so that none is empty
            pos = labels === nothing ? xyz : CC._normalise_columns(xyz * CC.one_hot(labels))
            r, edges = separations_and_edges(pos)
            if labels === nothing
                # at alpha = 1 / arcmin the farthest pairs lie > 709 arcmin beyond the last
                # edge, where the naive sigmoid's derivative is NaN
                @test r[end] - edges[end] > 709
            end
            val = G -> CC.xi_plus_value(
                G,
                x0,
                v0,
                g1,
                g2,
                edges,
                1.0;
                labels = labels,
                kw...,
            )
            fwd = CC.xi_plus_gradient(
                1.1,
                x0,
                v0,
                g1,
                g2,
                edges,
                1.0;
                mode = :forward,
                labels = labels,
                kw...,
            )
            @test fwd.xi ≈ val(1.1) rtol = SOLVE_RTOL
            @test all(isfinite, fwd.dxi_dG)
            rich, tol = richardson_difference(val, 1.1, 1.0e-4)
            @test all(abs.(fwd.dxi_dG .- rich) .<= tol)
            rev = CC.xi_plus_gradient(
                1.1,
                x0,
                v0,
                g1,
                g2,
                edges,
                1.0;
                mode = :reverse,
                labels = labels,
                kw...,
            )
            @test rev.xi ≈ fwd.xi rtol = SOLVE_RTOL
            @test rev.dxi_dG ≈ fwd.dxi_dG rtol = 1.0e-5 atol = 1.0e-10
        end
        @test_throws ArgumentError CC.xi_plus_gradient(
            1.0,
            x0,
            v0,
            g1,
            g2,
            [0.0, 1.0],
            1.0;
            mode = :sideways,
        )
    end

    @testset "empty bins: NaN in value and derivative there only, in both modes" begin
        x0, v0, g1, g2 = bodies(4, 9)
        kw = (softening = 0.01, t_max = 0.2, observer_distance = 3.0)
        xyz = CC.observed_unit_vectors(
            CC.final_positions(1.0, x0, v0; softening = 0.01, t_max = 0.2),
            3.0,
        )
        r, _ = separations_and_edges(xyz)
        # two bins holding the pairs, then two starting 1000 arcmin beyond the largest
        # separation, where every soft weight underflows to exactly 0 (sigma(-1000) = 0)
        edges = [0.0, r[3], r[end] + 1000.0, r[end] + 2000.0, r[end] + 3000.0]
        fwd = CC.xi_plus_gradient(1.0, x0, v0, g1, g2, edges, 1.0; mode = :forward, kw...)
        rev = CC.xi_plus_gradient(1.0, x0, v0, g1, g2, edges, 1.0; mode = :reverse, kw...)
        for out in (fwd, rev)
            @test all(isnan, out.xi[3:4]) && all(isnan, out.dxi_dG[3:4])
            @test all(isfinite, out.xi[1:2]) && all(isfinite, out.dxi_dG[1:2])
        end
        # a 0/0 quotient would have spread NaN to every bin in reverse mode
        @test rev.dxi_dG[1:2] ≈ fwd.dxi_dG[1:2] rtol = 1.0e-5
        @test fwd.xi[1:2] ≈
            CC.xi_plus_value(1.0, x0, v0, g1, g2, edges[1:3], 1.0; kw...) rtol = SOLVE_RTOL
        # no pair at all (one body): every bin empty
        one_body = CC.xi_plus_gradient(
            1.0,
            x0[:, 1:1],
            v0[:, 1:1],
            g1[1:1],
            g2[1:1],
            edges,
            1.0;
            mode = :reverse,
            kw...,
        )
        @test all(isnan, one_body.xi) && all(isnan, one_body.dxi_dG)
    end
end
