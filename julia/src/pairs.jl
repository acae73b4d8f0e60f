# Exact all-pairs sums per separation bin, mirroring cosmocorr/_kernels_numpy.pair_sums.

"""
    pair_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto)

Sums over all pairs (i in 1, j in 2) per bin: `npairs`, `weight` (sum w_i w_j), `wr`
(sum w_i w_j r) and, when `g1`/`g2` (complex vectors) are not `nothing`, `xip`, `xip_im`,
`xim`, `xim_im` (sums of w_i w_j Re/Im of z_i z_j^* and z_i z_j with each shear projected
onto the great circle joining the pair). `xyz1`, `xyz2` are 3 x N unit vectors; `auto`
counts each unordered pair i < j once. Rows are shared between threads, each with its own
accumulator.
"""
function pair_sums(xyz1::AbstractMatrix, w1::AbstractVector, g1, xyz2::AbstractMatrix,
                   w2::AbstractVector, g2, min_sep, max_sep, nbins::Integer, log::Bool, auto::Bool)
    n1 = size(xyz1, 2)
    n2 = size(xyz2, 2)
    shear = g1 !== nothing
    nq = shear ? 7 : 3
    nt = Threads.nthreads()
    acc = [zeros(Float64, nq, nbins) for _ in 1:nt]
    Threads.@threads :static for i in 1:n1
        a = acc[Threads.threadid()]
        ax, ay, az = xyz1[1, i], xyz1[2, i], xyz1[3, i]
        jstart = auto ? i + 1 : 1
        @inbounds for j in jstart:n2
            bx, by, bz = xyz2[1, j], xyz2[2, j], xyz2[3, j]
            dot = ax * bx + ay * by + az * bz
            r = vincenty_vectors(ax, ay, az, bx, by, bz) / ARCMIN
            k = bin_index(r, min_sep, max_sep, nbins, log)
            k == 0 && continue
            ww = w1[i] * w2[j]
            a[1, k] += 1
            a[2, k] += ww
            a[3, k] += ww * r
            if shear
                c2a, s2a, c2b, s2b = spin2_rotations(ax, ay, az, bx, by, bz, dot)
                za = w1[i] * g1[i] * complex(c2a, s2a)
                zb = w2[j] * g2[j] * complex(c2b, s2b)
                p = za * conj(zb)
                m = za * zb
                a[4, k] += real(p)
                a[5, k] += imag(p)
                a[6, k] += real(m)
                a[7, k] += imag(m)
            end
        end
    end
    total = reduce(+, acc)
    names = shear ? (:npairs, :weight, :wr, :xip, :xip_im, :xim, :xim_im) : (:npairs, :weight, :wr)
    return NamedTuple{names}(Tuple(total[q, :] for q in 1:nq))
end
