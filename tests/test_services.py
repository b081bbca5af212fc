"""Postal points and public facilities per commune (ictplan.services), on hand-built layers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import Point, box

from ictplan import services
from ictplan.errors import InputValidationError, MissingColumnError, SkippedFeaturesWarning
from ictplan.grid import Grid

UTM = CRS.from_epsg(32648)


def communes() -> gpd.GeoDataFrame:
    """Three 1 km squares side by side: A1, A2 (district A) and B1 (district B)."""
    return gpd.GeoDataFrame(
        {"commune_code": ["00001", "00002", "00003"], "commune_name": ["A1", "A2", "B1"],
         "district_code": ["A", "A", "B"], "district_name": ["Dist A", "Dist A", "Dist B"]},
        geometry=[box(500000, 1000000, 501000, 1001000), box(501000, 1000000, 502000, 1001000),
                  box(502000, 1000000, 503000, 1001000)],
        crs=UTM,
    )


def postal() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"point_id": ["p1", "p2", "p3", "p4", "p5"],
         "name": ["a", "b", "c", "d", "e"],
         "commune_code": ["00001", "00001", "00002", "99999", "00003"],
         "staffed": [True, True, False, True, pd.NA],
         "internet": [True, False, True, True, True],
         "online_services": [True, pd.NA, True, False, True]},
        geometry=[Point(500100, 1000100), Point(500200, 1000200), Point(501500, 1000500),
                  Point(502500, 1000500),  # unknown code but inside B1
                  Point(502600, 1000600)],
        crs=UTM,
    )


def test_postal_presence_known_counts():
    p = services.postal_presence(postal(), communes())
    assert list(p.index) == ["00001", "00002", "00003"]
    assert p.loc["00001"].tolist() == [2, 2, 1, 1, 1]  # points, staffed, staffed_internet, staffed_online, has_staffed
    assert p.loc["00002"].tolist() == [1, 0, 0, 0, 0]  # unstaffed point: internet does not count
    # p4 (unknown code 99999) is placed in B1 by location; p5's staffed NA counts as false
    assert p.loc["00003"].tolist() == [2, 1, 1, 0, 1]
    assert int(p["points"].sum()) == 5


def test_postal_presence_point_in_no_commune_is_counted_and_warned():
    pts = postal()
    pts.loc[3, "geometry"] = Point(600000, 1000000)  # far away, unknown code
    with pytest.warns(SkippedFeaturesWarning, match="1 of 5 postal points"):
        p = services.postal_presence(pts, communes())
    assert int(p["points"].sum()) == 4


def test_postal_presence_missing_columns_all_named():
    with pytest.raises(MissingColumnError, match="staffed, internet"):
        services.postal_presence(postal().drop(columns=["staffed", "internet"]), communes())


def test_postal_presence_does_not_mutate():
    pts, com = postal(), communes()
    before_p, before_c = pts.copy(), com.copy()
    services.postal_presence(pts, com)
    pd.testing.assert_frame_equal(pts, before_p)
    pd.testing.assert_frame_equal(com, before_c)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(500000, 502999), st.floats(1000000, 1000999), st.booleans(), st.booleans(),
                          st.booleans(), st.sampled_from(["00001", "00002", "00003", "x"])), min_size=0, max_size=30))
def test_postal_presence_invariants(rows):
    pts = gpd.GeoDataFrame(
        {"point_id": [str(i) for i in range(len(rows))], "name": "n",
         "commune_code": [r[5] for r in rows], "staffed": [r[2] for r in rows], "internet": [r[3] for r in rows],
         "online_services": [r[4] for r in rows]},
        geometry=[Point(r[0], r[1]) for r in rows], crs=UTM)
    p = services.postal_presence(pts, communes())
    assert int(p["points"].sum()) == len(rows)  # every point lies in a commune: none lost, none doubled
    assert (p["staffed_internet"] <= p["staffed"]).all() and (p["staffed_online"] <= p["staffed"]).all()
    assert (p["staffed"] <= p["points"]).all()
    assert int(p["staffed"].sum()) == sum(r[2] for r in rows)
    assert ((p["has_staffed"] == 1) == (p["staffed"] > 0)).all()


def facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"facility_id": ["h1", "h2", "s1", "s2", "o1", "g1"],
         "name": "n",
         "kind": ["health_station", "health_station", "school", "school", "commune_office", "agency"],
         "commune_code": ["00001", "00002", "00001", "00003", "00003", "00001"],
         "level": [None, None, None, None, "commune", "province"],
         "urban": [False, False, True, False, False, True]},
        geometry=[Point(500100, 1000100), Point(501100, 1000100), Point(500500, 1000500),
                  Point(502500, 1000500), Point(502700, 1000700), Point(500900, 1000900)],
        crs=UTM,
    )


def test_facility_connectivity_and_counts():
    fiber = pd.DataFrame({"fiber_reach": [True, False, True, True], "offered_mbps": [1000.0, 0.0, 200.0, 1000.0]},
                         index=["h1", "h2", "s1", "g1"])
    mobile = pd.DataFrame({"has_4g": [True, True, False, False, True, True],
                           "has_5g": [False, False, True, False, False, False]},
                          index=["h1", "h2", "s1", "s2", "o1", "g1"])
    conn = services.facility_connectivity(facilities(), communes(), fiber=fiber, mobile=mobile)
    assert conn["has_mobile"].tolist() == [True, True, True, False, True, True]
    assert conn["fiber_reach"].isna().tolist() == [False, False, False, True, True, False]  # s2, o1 unknown
    c = services.facility_counts(conn, communes(), kinds=("health_station",), column="fiber_reach")
    assert c.loc["00001"].tolist() == [1, 1, 0] and c.loc["00002"].tolist() == [1, 0, 0]
    assert c.loc["00003"].tolist() == [0, 0, 0]
    s = services.facility_counts(conn, communes(), kinds=("school",), column="has_mobile")
    assert s["facilities"].tolist() == [1, 0, 1] and s["served"].tolist() == [1, 0, 0]
    # urban organisations at >= 1 Gb/s: s1 (urban, 200 Mb/s) no; g1 (urban, 1000) yes
    u = services.facility_counts(conn, communes(), kinds=None, column="fiber_reach", urban_only=True, min_mbps=1000)
    assert u.loc["00001"].tolist() == [2, 1, 0]
    a = services.facility_counts(conn, communes(), kinds=services.AGENCY_KINDS, column="fiber_reach")
    assert a.loc["00003"].tolist() == [1, 0, 1]  # o1: unknown, reported as such


def test_facility_connectivity_without_sources_is_unknown_not_false():
    conn = services.facility_connectivity(facilities(), communes())
    assert conn["fiber_reach"].isna().all() and conn["has_mobile"].isna().all()


def test_facility_connectivity_bad_fiber_table():
    with pytest.raises(MissingColumnError, match="fiber_reach"):
        services.facility_connectivity(facilities(), communes(), fiber=pd.DataFrame({"x": [1]}, index=["h1"]))


def test_sample_grid():
    grid = Grid(Affine(100, 0, 500000, 0, -100, 1001000), 30, 10, UTM)
    arr = np.arange(300).reshape(10, 30)
    pts = gpd.GeoSeries([Point(500050, 1000950), Point(502950, 1000050), Point(400000, 1000000)], crs=UTM)
    v = services.sample_grid(arr, grid, pts)
    assert v[0] == 0 and v[1] == 299 and np.isnan(v[2])
    # another CRS is projected, not misread
    v2 = services.sample_grid(arr, grid, pts.to_crs(4326))
    assert v2[0] == 0 and v2[1] == 299
    with pytest.raises(InputValidationError, match="shape"):
        services.sample_grid(arr[:5], grid, pts)
