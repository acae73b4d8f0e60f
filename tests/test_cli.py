"""The command line: demo (the README's main job) and rho on a FITS catalog."""
import json
import subprocess
import sys

import numpy as np
import pytest
import treecorr

from cosmocorr.cli import main
from cosmocorr.sky.synthetic import synthetic_star_catalog


def _tc_xip(ra, dec, z, z2=None, min_sep=0.0):
    gg = treecorr.GGCorrelation(min_sep=min_sep, max_sep=45.0, nbins=8, bin_type="Linear", sep_units="arcmin",
                                brute=True, metric="Arc")
    mk = lambda g: treecorr.Catalog(ra=ra, dec=dec, g1=g.real, g2=g.imag, ra_units="deg", dec_units="deg")
    gg.process(mk(z)) if z2 is None else gg.process(mk(z), mk(z2))
    return gg.xip


def test_demo_writes_figure_and_json(tmp_path, capsys):
    assert main(["demo", "--outdir", str(tmp_path)]) == 0
    assert (tmp_path / "rho_demo.png").stat().st_size > 10_000
    d = json.loads((tmp_path / "rho_demo.json").read_text())
    s = synthetic_star_catalog(610, seed=0)
    np.testing.assert_allclose(d["rho1"]["xip"], _tc_xip(s.ra, s.dec, s.de), rtol=1e-5, atol=1e-12)
    assert "rho5" in capsys.readouterr().out


def test_rho_command_on_cosmos_web(cosmos_fits, tmp_path):
    out_json = tmp_path / "rho.json"
    assert main(["rho", str(cosmos_fits), "--min-sep", "0.01", "--out", str(tmp_path / "rho.png"), "--json", str(out_json)]) == 0
    d = json.loads(out_json.read_text())
    from astropy.io import fits
    with fits.open(cosmos_fits) as h:
        t = h[1].data
        e = t["g1_vignet"] + 1j * t["g2_vignet"]
        de = e - (t["g1_psfex"] + 1j * t["g2_psfex"])
        ref = _tc_xip(t["ra"], t["dec"], e, de, min_sep=0.01)
    np.testing.assert_allclose(d["rho2"]["xip"], ref, rtol=1e-5, atol=1e-12)
    assert (tmp_path / "rho.png").exists()


def test_rho_command_errors(tmp_path, cosmos_fits):
    with pytest.raises(SystemExit, match="column 'nope' not found"):
        main(["rho", str(cosmos_fits), "--star-columns", "nope,g2_vignet,sig_vignet", "--out", ""])
    with pytest.raises(SystemExit, match="three comma-separated"):
        main(["rho", str(cosmos_fits), "--star-columns", "a,b", "--out", ""])
    with pytest.raises(SystemExit, match="not found"):
        main(["rho", str(tmp_path / "none.fits"), "--out", ""])
    with pytest.raises(SystemExit, match="min_sep"):
        main(["rho", str(cosmos_fits), "--min-sep", "50", "--out", ""])


def test_module_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cosmocorr", "demo", "--outdir", str(tmp_path), "--n-stars", "100"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "100 stars" in proc.stdout
