"""
    CosmoCorrReverseExt

The reverse-mode path of CosmoCorr (paper sec. 6): Zygote through the soft estimator and
SciMLSensitivity's adjoint through the ODE solve. A package extension (`[weakdeps]` and
`[extensions]` of CosmoCorr's Project.toml, Julia >= 1.9): Julia loads it by itself once
CosmoCorr, Zygote and SciMLSensitivity are all loaded in the session, and it adds the method of
`CosmoCorr.reverse_gradient`. Without it CosmoCorr needs neither package (a much lighter
install); `CosmoCorr.reverse_mode_loaded()` tells whether it is loaded.
"""
module CosmoCorrReverseExt

using CosmoCorr: CosmoCorr
using SciMLSensitivity: InterpolatingAdjoint, ReverseDiffVJP
using Zygote: Zygote

"""
    REVERSE_SENSEALG

The sensitivity algorithm of the ODE solve under Zygote, pinned rather than left to
SciMLSensitivity's automatic choice (which switches to forward mode, `ForwardDiffSensitivity`,
when `length(u0) + length(p) <= 100`, i.e. for up to 16 bodies here, and otherwise picks a
vector-Jacobian product by probing Enzyme, then ReverseDiff): with it reverse mode is always a
continuous adjoint, the same for every problem size. The right-hand side mutates `du`, so the
VJP cannot be `ZygoteVJP`; ReverseDiff with a compiled tape handles an in-place right-hand side
without value-dependent branches, which `CosmoCorr.gravity_rhs!` is.
"""
const REVERSE_SENSEALG = InterpolatingAdjoint(; autojacvec = ReverseDiffVJP(true))

"""
    CosmoCorr.reverse_gradient(model, G) -> (xi, dxi_dG)

One forward pass (`Zygote.withjacobian`, which returns the value with the Jacobian), then one
pullback per bin, each an adjoint solve of SciMLSensitivity with `REVERSE_SENSEALG`.
"""
function CosmoCorr.reverse_gradient(model::NamedTuple, G::Real)
    adjoint_model = merge(model, (sensealg = REVERSE_SENSEALG,))
    f = g -> CosmoCorr.xi_plus_value(g, adjoint_model)
    # `withjacobian` returns (val = vec(f(G)), grad = (J,)); for a scalar argument J is a
    # vector, one entry per output
    res = Zygote.withjacobian(f, Float64(G))
    return collect(Float64, res.val), collect(Float64, res.grad[1])
end

end # module
