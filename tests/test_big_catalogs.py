"""Big catalogs in (issue 23): Catalog.read reads only the columns it uses and TreeCorr's rows.

References: astropy's full read of the same file (values), TreeCorr's Catalog with the same
first_row / last_row / every_nth (rows), tracemalloc and a spy on the FITS column accessor
(only the named columns are copied).
"""
import tracemalloc

import numpy as np
import pytest
import treecorr
from astropy.io import fits
from astropy.table import Table

import cosmocorr as cc
from cosmocorr.sky.synthetic import synthetic_star_catalog

N_COLS = 40


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """A FITS table of 40 float columns (ra, dec, g1, g2, w and 35 others), 50,000 rows."""
    rng = np.random.default_rng(5)
    n = 50_000
    cols = {"RA": rng.uniform(10, 12, n), "DEC": rng.uniform(-1, 1, n), "g1": rng.normal(0, 0.2, n),
            "g2": rng.normal(0, 0.2, n), "w": rng.uniform(0.5, 2, n)}
    cols.update({f"x{i}": rng.normal(size=n) for i in range(N_COLS - len(cols))})
    path = tmp_path_factory.mktemp("wide") / "wide.fits"
    fits.BinTableHDU.from_columns([fits.Column(name=k, format="D", array=v, unit="deg" if k in ("RA", "DEC") else None)
                                   for k, v in cols.items()]).writeto(path)
    return path, cols


KW = dict(ra="ra", dec="dec", g1="g1", g2="g2", w="w")


def test_fits_reads_only_the_named_columns(wide, monkeypatch):
    path, cols = wide
    seen = []
    original = fits.FITS_rec.field

    def spy(self, key):
        seen.append(key)
        return original(self, key)

    monkeypatch.setattr(fits.FITS_rec, "field", spy)
    cat = cc.Catalog.read(path, **KW)
    assert {str(k).lower() for k in seen} == {"ra", "dec", "g1", "g2", "w"}
    monkeypatch.undo()
    full = Table.read(path)
    np.testing.assert_array_equal(cat.ra, full["RA"])
    np.testing.assert_array_equal(cat.g2, full["g2"])
    np.testing.assert_array_equal(cat.w, full["w"])
    # memory: the five columns (and the catalog built from them), far below the 40-column table
    table_bytes = len(full) * N_COLS * 8
    del full
    tracemalloc.start()
    cc.Catalog.read(path, **KW)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < table_bytes / 3, (peak, table_bytes)


@pytest.mark.parametrize("first_row, last_row, every_nth", [(1, -1, 7), (101, 4000, 1), (5, 30001, 3)])
def test_rows_follow_treecorr(wide, first_row, last_row, every_nth):
    path, cols = wide
    cat = cc.Catalog.read(path, first_row=first_row, last_row=last_row, every_nth=every_nth, **KW)
    tc = treecorr.Catalog(str(path), ra_col="RA", dec_col="DEC", g1_col="g1", g2_col="g2", w_col="w",
                          ra_units="deg", dec_units="deg", first_row=first_row, last_row=last_row,
                          every_nth=every_nth)
    np.testing.assert_allclose(cat.ra, np.degrees(tc.ra), rtol=1e-14)
    np.testing.assert_array_equal(cat.g1, tc.g1)
    np.testing.assert_array_equal(cat.w, tc.w)
    sel = slice(first_row - 1, None if last_row == -1 else last_row, every_nth)
    np.testing.assert_array_equal(cat.dec, Table.read(path)["DEC"][sel])


def test_other_formats_read_the_same_columns_and_rows(tmp_path):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(2)
    n = 3000
    t = Table({"ra": rng.uniform(0, 2, n), "Dec": rng.uniform(0, 2, n), "g1": rng.normal(size=n),
               "g2": rng.normal(size=n), "junk": rng.normal(size=n)})
    t["ra"].unit = "deg"
    t.write(tmp_path / "c.hdf5", path="cat", serialize_meta=True)
    t.write(tmp_path / "c.parquet")
    t.write(tmp_path / "c.csv")
    with h5py.File(tmp_path / "tc.h5", "w") as f:           # TreeCorr's layout: a group of column datasets
        g = f.create_group("cat")
        for k in t.colnames:
            g.create_dataset(k, data=np.asarray(t[k]))
    rows = dict(first_row=11, last_row=2500, every_nth=4)
    sel = slice(10, 2500, 4)
    for name, hdu in (("c.hdf5", "cat"), ("c.hdf5", None), ("tc.h5", "cat"), ("c.parquet", None), ("c.csv", None)):
        cat = cc.Catalog.read(tmp_path / name, hdu=hdu, g1="G1", g2="g2", **rows)
        np.testing.assert_array_equal(cat.ra, np.asarray(t["ra"])[sel], err_msg=name)
        np.testing.assert_array_equal(cat.dec, np.asarray(t["Dec"])[sel], err_msg=name)
        np.testing.assert_array_equal(cat.g1, np.asarray(t["g1"])[sel], err_msg=name)
    # the unit stored by astropy is read: an explicit, different ra_units wins with a warning, as
    # for a full read (issue 27), and the values are then taken in that unit
    with pytest.warns(UserWarning, match="ra_units='rad' overrides the unit 'deg'"):
        cat = cc.Catalog.read(tmp_path / "c.hdf5", hdu="cat", ra_units="rad", g1="G1", g2="g2")
    np.testing.assert_allclose(cat.ra, np.degrees(np.asarray(t["ra"])) % 360.0, rtol=1e-13)
    with pytest.raises(ValueError, match="g1: column 'nope' not found"):
        cc.Catalog.read(tmp_path / "c.parquet", g1="nope", g2="g2")


@pytest.mark.parametrize("kw, error, match", [
    (dict(every_nth=0), ValueError, "every_nth"), (dict(every_nth=2.5), TypeError, "every_nth"),
    (dict(first_row=0), ValueError, "first_row"), (dict(first_row="1"), TypeError, "first_row"),
    (dict(first_row=50_001), ValueError, "first_row=50001 but .* 50000 rows"),
    (dict(last_row=50_001), ValueError, "last_row=50001 but .* 50000 rows"),
    (dict(first_row=10, last_row=5), ValueError, "last_row"), (dict(last_row=3.0), TypeError, "last_row"),
])
def test_bad_rows(wide, kw, error, match):
    with pytest.raises(error, match=match):
        cc.Catalog.read(wide[0], **kw)


def test_star_catalog_rows(tmp_path):
    stars = synthetic_star_catalog(500, seed=2)
    t = Table({"ra": stars.ra, "dec": stars.dec, "g1_vignet": stars.g1_star, "g2_vignet": stars.g2_star,
               "T_s": stars.T_star, "g1_psfex": stars.g1_model, "g2_psfex": stars.g2_model, "T_m": stars.T_model})
    t.write(tmp_path / "s.fits")
    got = cc.StarCatalog.read(tmp_path / "s.fits", T_star="T_s", T_model="T_m", first_row=3, last_row=400, every_nth=5)
    np.testing.assert_array_equal(got.ra, stars.ra[2:400:5])
    np.testing.assert_array_equal(got.T_model, stars.T_model[2:400:5])
    with pytest.raises(ValueError, match="every_nth"):
        cc.StarCatalog.read(tmp_path / "s.fits", T_star="T_s", T_model="T_m", every_nth=0)
