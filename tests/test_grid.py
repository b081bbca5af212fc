"""Zone weights: exact cell fractions and the cell-centre rule, checked against shapely
brute force; zones that tile the grid add up to the raster total."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from ictplan._errors import InputValidationError, NoDataInBoundsError, SkippedFeaturesWarning
from ictplan.grid import (
    OUTSIDE_ZONES,
    Grid,
    _centre_spans,
    outside_weights,
    zone_sums,
    zone_weights,
)

UTM = pyproj.CRS(32648)


def make_grid(w=40, h=30, res=100.0, x0=500_000.0, y0=1_000_000.0):
    return Grid(Affine(res, 0, x0, 0, -res, y0), w, h, UTM)


def cell_boxes(grid):
    minx, miny, maxx, maxy = grid.bounds
    xs = minx + np.arange(grid.width) * grid.res_m[0]
    ys = maxy - np.arange(grid.height) * grid.res_m[1]
    X, Y = np.meshgrid(xs, ys)
    return shapely.box(X.ravel(), (Y - grid.res_m[1]).ravel(), (X + grid.res_m[0]).ravel(), Y.ravel())


def tiling(grid, cut_x, cut_y):
    minx, miny, maxx, maxy = grid.bounds
    polys = [shapely.box(minx, miny, cut_x, maxy), shapely.box(cut_x, miny, maxx, cut_y),
             shapely.box(cut_x, cut_y, maxx, maxy)]
    return gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=polys, crs=UTM)


def test_existing_grid_api_intact():
    g = make_grid()
    assert g.shape == (30, 40) and g.cell_area_m2 == 10_000
    x, y = g.cell_centres()
    assert x[0, 0] == 500_050 and y[0, 0] == 999_950
    assert g.rowcol(np.array([500_050.0]), np.array([999_950.0])) == (0, 0)


def test_exact_weights_match_shapely_areas():
    g = make_grid(12, 9)
    minx, miny, maxx, maxy = g.bounds
    tri = shapely.Polygon([(minx + 37, miny + 11), (maxx - 123, miny + 250), (minx + 400, maxy - 7)])
    ring = shapely.Point(minx + 600, miny + 450).buffer(300).difference(shapely.Point(minx + 600, miny + 450).buffer(120))
    zones = gpd.GeoDataFrame(geometry=[tri, ring], crs=UTM)
    w = zone_weights(zones, g, method="exact").toarray()
    boxes = cell_boxes(g)
    for z, poly in enumerate([tri, ring]):
        brute = shapely.area(shapely.intersection(boxes, poly)) / g.cell_area_m2
        np.testing.assert_allclose(w[z], brute, atol=1e-6)


def test_centre_weights_match_point_in_polygon():
    g = make_grid(37, 29)
    minx, miny, maxx, maxy = g.bounds
    tri = shapely.Polygon([(minx + 37, miny + 11), (maxx - 2023, miny + 250), (minx + 400, maxy - 7)])
    centre = shapely.Point(maxx - 900, miny + 1200)
    ring = centre.buffer(800).difference(centre.buffer(310))  # a hole
    multi = shapely.MultiPolygon([shapely.box(maxx - 500, maxy - 900, maxx + 300, maxy - 20),
                                  shapely.box(minx + 1500, maxy - 700, minx + 1730, maxy - 130)])
    zones = gpd.GeoSeries([tri, ring, multi], crs=UTM)
    assert not zones.union_all().area < zones.area.sum() - 1e-6  # no overlap: the scanline path is used
    assert _centre_spans(zones.values, g) is not None
    w = zone_weights(zones, g, method="centre").toarray()
    x, y = g.cell_centres()
    for z, poly in enumerate(zones):
        brute = shapely.contains_xy(poly, x.ravel(), y.ravel())
        assert (w[z].astype(bool) == brute).all()
    assert w.sum(axis=0).max() == 1.0


def test_centre_weights_overlap_last_wins():
    g = make_grid(20, 20)
    minx, miny, _, _ = g.bounds
    a = shapely.box(minx, miny, minx + 1000, miny + 1000)
    b = shapely.box(minx + 500, miny + 500, minx + 1500, miny + 1500)
    w = zone_weights(gpd.GeoSeries([a, b], crs=UTM), g, method="centre").toarray()
    assert w.sum(axis=0).max() == 1.0  # every cell in one zone only
    assert w[1].sum() == 100 and w[0].sum() == 100 - 25  # the overlap went to the last zone


@pytest.mark.parametrize("method", ["exact", "centre"])
def test_tiling_zones_sum_to_raster_total(method):
    g = make_grid()
    rng = np.random.default_rng(1)
    pop = rng.gamma(0.5, 40, g.shape)
    zones = tiling(g, g.bounds[0] + 1234.5, g.bounds[1] + 987.6)
    w = zone_weights(zones, g, method=method)
    col = np.asarray(w.sum(axis=0)).ravel()
    np.testing.assert_allclose(col, 1.0, atol=1e-12)
    tot = zone_sums(w, pop)
    assert abs(tot.sum() - pop.sum()) / pop.sum() < 1e-6
    assert outside_weights(w) @ pop.ravel() == pytest.approx(0.0, abs=1e-6)


def test_outside_zones_leftover_adds_up():
    g = make_grid()
    pop = np.full(g.shape, 3.0)
    minx, miny, maxx, maxy = g.bounds
    zones = gpd.GeoDataFrame(geometry=[shapely.box(minx - 500, miny + 333, minx + 1555, maxy - 101),
                                       shapely.box(minx + 2000, miny, minx + 2500, miny + 800)], crs=UTM)
    w = zone_weights(zones, g)
    inside = zone_sums(w, pop)
    outside = outside_weights(w) @ pop.ravel()
    assert inside.sum() + outside == pytest.approx(pop.sum(), rel=1e-9)
    assert inside[1] == pytest.approx(3.0 * 500 * 800 / 10_000)
    assert OUTSIDE_ZONES == "(outside zones)"


def test_zones_in_other_crs_are_projected():
    g = make_grid()
    zones = tiling(g, g.bounds[0] + 1500, g.bounds[1] + 1500)
    w_utm = zone_weights(zones, g).toarray()
    w_ll = zone_weights(zones.to_crs(4326), g).toarray()
    np.testing.assert_allclose(w_ll.sum(axis=1), w_utm.sum(axis=1), rtol=1e-4)


def test_non_overlapping_zones():
    g = make_grid()
    far = shapely.box(0, 0, 1000, 1000)
    inside = shapely.box(*np.add(g.bounds[:2], 10), *np.add(g.bounds[:2], 500))
    with pytest.raises(NoDataInBoundsError, match="none of the 1 zone"):
        zone_weights(gpd.GeoSeries([far], crs=UTM), g)
    with pytest.warns(SkippedFeaturesWarning, match="1 of 2 zone"):
        w = zone_weights(gpd.GeoSeries([far, inside], crs=UTM), g)
    assert w[0].nnz == 0 and w[1].nnz > 0


def test_bad_inputs():
    g = make_grid()
    with pytest.raises(InputValidationError, match="method"):
        zone_weights(gpd.GeoSeries([shapely.box(*g.bounds)], crs=UTM), g, method="touch")
    with pytest.raises(InputValidationError, match="polygons"):
        zone_weights(gpd.GeoSeries([shapely.Point(g.bounds[:2])], crs=UTM), g)
    with pytest.raises(InputValidationError, match="CRS"):
        zone_weights(gpd.GeoSeries([shapely.box(*g.bounds)]), g)
    w = zone_weights(gpd.GeoSeries([shapely.box(*g.bounds)], crs=UTM), g)
    with pytest.raises(InputValidationError, match="cells"):
        zone_sums(w, np.ones(5))


def test_inputs_not_mutated():
    g = make_grid()
    zones = tiling(g, g.bounds[0] + 1500, g.bounds[1] + 1500)
    before = zones.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zone_weights(zones.to_crs(4326), g)
        zone_weights(zones, g, method="centre")
    assert zones.equals(before)


@settings(max_examples=25, deadline=None)
@given(fx=st.floats(0.05, 0.95), fy=st.floats(0.05, 0.95), seed=st.integers(0, 1000))
def test_property_random_tilings_add_up(fx, fy, seed):
    g = make_grid(23, 17)
    minx, miny, maxx, maxy = g.bounds
    zones = tiling(g, minx + fx * (maxx - minx), miny + fy * (maxy - miny))
    pop = np.random.default_rng(seed).uniform(0, 100, g.shape)
    for method in ("exact", "centre"):
        w = zone_weights(zones, g, method=method)
        assert abs(zone_sums(w, pop).sum() - pop.sum()) <= 1e-6 * pop.sum()


def test_centre_weights_equal_gdal_rasterize_on_voronoi_communes():
    from rasterio.features import rasterize

    g = make_grid(150, 120)
    minx, miny, maxx, maxy = g.bounds
    rng = np.random.default_rng(5)
    seeds = shapely.multipoints(shapely.points(rng.uniform(minx, maxx, 40), rng.uniform(miny, maxy, 40)))
    box = shapely.box(minx, miny, maxx, maxy)
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=box)), box)
    cells = shapely.segmentize(cells, 37.0)  # many vertices, like real communes
    w = zone_weights(gpd.GeoSeries(cells, crs=UTM), g, method="centre")
    labels = rasterize(((c, i + 1) for i, c in enumerate(cells)), out_shape=g.shape, transform=g.transform,
                       dtype="int32").ravel()
    ours = np.zeros(labels.size, dtype=np.int64)
    coo = w.tocoo()
    ours[coo.col] = coo.row + 1
    assert (ours == labels).all()  # the scanline fill and GDAL pick the same cells
