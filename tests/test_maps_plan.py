"""The plan's map layers: one per phase and kind, off when the map opens, in the reader's words."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import shapely

from ictplan.maps.planlayers import KIND_COLOURS, plan_layers


def _plan():
    crs = "EPSG:32648"
    pts = [shapely.Point(530000 + i * 100, 1010000) for i in range(3)]
    sites = gpd.GeoDataFrame({"kind": ["colocation", "new_tower", "upgrade"], "operator": ["neutral", "neutral", "VNPT"],
                              "cost_vnd": [9e8, 1.6e9, 6e8], "people_added": [100.0, 50.0, 10.0],
                              "phase": ["2025", "2030", "2030"]}, geometry=pts, crs=crs)
    fiber = gpd.GeoDataFrame({"operator": ["neutral"], "placement": ["duct"], "length_m": [1000.0], "cost_vnd": [3e8],
                              "phase": ["2025"]}, geometry=[shapely.LineString([(530000, 1010000), (531000, 1010000)])],
                             crs=crs)
    empty = gpd.GeoDataFrame({"phase": []}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    return SimpleNamespace(sites=sites, carriers=empty, fiber=fiber, postal=empty, datacentres=empty)


def test_plan_layers_per_phase_off_by_default_and_translated():
    specs = plan_layers(_plan(), lang="vi")
    assert [s["key"] for s in specs] == ["plan_sites_2025", "plan_sites_2030", "plan_fiber_2025"]
    assert not any(s["show"] for s in specs)
    s2030 = specs[1]
    assert sorted(s2030["gdf"]["kind_text"]) == ["cột mới", "nâng cấp trạm 4G"]  # legend keys in Vietnamese
    assert s2030["colours"]["cột mới"] == KIND_COLOURS["new_tower"]
    assert s2030["gdf"]["operator"].tolist()[0] == "doanh nghiệp hạ tầng trung lập"
    assert specs[2]["gdf"]["placement"].iloc[0] == "trong cống bể"
    assert specs[0]["gdf"]["cost_bn_vnd"].iloc[0] == 0.9
    en = plan_layers(_plan(), lang="en")
    assert sorted(en[1]["gdf"]["kind_text"]) == ["new tower", "upgrade of a 4G site"]
