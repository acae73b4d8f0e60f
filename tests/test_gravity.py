"""The gravity forward model and its forward sensitivities d(state)/dG."""
import numpy as np
import pytest

from cosmocorr.differentiable.gravity import circular_period, initial_conditions, integrate, simulate_catalog


@pytest.mark.parametrize("G", [0.7, 1.0, 1.6])
def test_circular_orbit_sensitivity_matches_closed_form(G):
    """x(t) = r (cos wt, sin wt, 0) with w = sqrt(G M / r^3) when v0 = sqrt(G M / r):
    dx/dG = r t w / (2 G) (-sin wt, cos wt, 0)."""
    r, M, T = 1.3, 2.0, 3.7
    v = np.sqrt(G * M / r)
    x0, v0 = np.array([[r, 0.0, 0.0]]), np.array([[0.0, v, 0.0]])
    x, dx = integrate(x0, v0, G, M, t_max=T, softening=0.0, dv0_dG=v0 / (2 * G))
    w = np.sqrt(G * M / r**3)
    np.testing.assert_allclose(x[0], r * np.array([np.cos(w * T), np.sin(w * T), 0.0]), atol=1e-9)
    np.testing.assert_allclose(dx[0], r * T * w / (2 * G) * np.array([-np.sin(w * T), np.cos(w * T), 0.0]), atol=1e-8)


def test_sensitivities_match_finite_differences():
    c = simulate_catalog(1.0, 50, seed=3)
    h = 1e-7
    p = simulate_catalog(1 + h, 50, seed=3, with_tangent=False).positions
    m = simulate_catalog(1 - h, 50, seed=3, with_tangent=False).positions
    np.testing.assert_allclose(c.dpositions_dG, (p - m) / (2 * h), rtol=1e-5, atol=1e-6 * np.abs(c.dpositions_dG).max())
    # unit-vector tangents too
    up = simulate_catalog(1 + h, 50, seed=3, with_tangent=False).xyz.v
    um = simulate_catalog(1 - h, 50, seed=3, with_tangent=False).xyz.v
    np.testing.assert_allclose(c.xyz.d, (up - um) / (2 * h), rtol=1e-5, atol=1e-6 * np.abs(c.xyz.d).max())


def test_initial_conditions_are_seeded_and_independent_of_G():
    a = simulate_catalog(1.0, 30, seed=5, with_tangent=False)
    b = simulate_catalog(1.0, 30, seed=5, with_tangent=False)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.g, simulate_catalog(2.0, 30, seed=5, with_tangent=False).g)
    x0, v0 = initial_conditions(30, seed=5)
    r = np.linalg.norm(x0, axis=1)
    assert np.all((r >= 0.5) & (r <= 1.5))
    assert abs(circular_period(1.0, 1.0, 1.0) - 2 * np.pi) < 1e-15
    # the field spans several degrees around (0, 0)
    assert 5 < np.ptp(a.dec) < 30


def test_bad_input():
    with pytest.raises(ValueError, match="G"):
        simulate_catalog(-1.0, 10)
    with pytest.raises(ValueError, match="n_galaxies"):
        simulate_catalog(1.0, 0)


def test_grouped_integration_equals_one_system_and_finite_differences():
    """Large catalogs are integrated in groups of similar pericentre (speed only): the positions
    equal one joint solve within the ODE tolerance, and d x/d G equals central differences."""
    x0, v0 = initial_conditions(300, 4)
    xa, dxa = integrate(x0, v0, 1.1, t_max=1.0, group_size=10_000)
    xg, dxg = integrate(x0, v0, 1.1, t_max=1.0, group_size=40)
    np.testing.assert_allclose(xg, xa, rtol=0, atol=1e-7)
    h = 1e-5
    xp, _ = integrate(x0, v0, 1.1 + h, t_max=1.0, group_size=40, with_sensitivity=False)
    xm, _ = integrate(x0, v0, 1.1 - h, t_max=1.0, group_size=40, with_sensitivity=False)
    fd = (xp - xm) / (2 * h)
    np.testing.assert_allclose(dxg, fd, rtol=0, atol=1e-5 * np.abs(fd).max())
    np.testing.assert_allclose(dxg, dxa, rtol=0, atol=1e-6 * np.abs(dxa).max())
