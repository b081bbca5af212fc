"""Write the planners' notebooks (notebooks/0*.ipynb) without outputs.

Run ``python scripts/make_notebooks.py`` after changing a notebook's text here; the
notebooks are committed as written (``"outputs": []``, ``execution_count: null``) and
executed by ``scripts/run_notebooks.py`` (``make notebooks``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"

SETUP = """import warnings
import pandas as pd
import ictplan
from ictplan import datasets, maps

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
study = datasets.camau()   # or: ictplan.study.load("path/to/your/study")
study"""

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_load_and_check_a_study.ipynb": [
        ("md", """# 01 · Load and check a study

A **study** is a folder with a `study.toml` that names its layers (communes, hamlets,
population raster, cell sites, fiber routes, postal points, facilities, ...). This
notebook loads the embedded Cà Mau sample, checks every layer and looks at what it holds.
Point `ictplan.study.load()` at your own folder to do the same with your data."""),
        ("code", SETUP),
        ("md", "## Every layer, loaded and validated\n`check()` reports, per layer, the features read and what the loader repaired or skipped."),
        ("code", """checks = study.check()
pd.DataFrame([{"layer": c.name, "ok": c.ok, "features": c.n_features, "seconds": round(c.seconds, 2),
               "repairs": c.report, "warnings": len(c.warnings), "error": c.error} for c in checks])"""),
        ("code", """assert all(c.ok for c in checks), [c.error for c in checks if not c.ok]"""),
        ("md", "## Communes and districts\nNames keep their diacritics (Unicode NFC). Areas are measured on the full boundary in the study's metric CRS (UTM 48N)."),
        ("code", """communes = maps.commune_figures(study.layer("communes"), crs=study.crs)
communes[["commune_code", "commune_name", "district_name", "pop2019", "hh2019", "area_km2", "density_per_km2"]].head(10)"""),
        ("code", """from ictplan import report
figures = report.key_figures(study)
figures["districts"]"""),
        ("code", """# every figure adds up: the communes sum to their districts and to the province
assert figures["communes"]["pop2019"].sum() == figures["province"]["pop2019"].iloc[0]
figures["province"]"""),
        ("md", "## The population raster\nThe analysis grid is the population raster's grid: people are never resampled."),
        ("code", """pop = study.population
print(f"{pop.grid.width} x {pop.grid.height} cells of {pop.grid.res_m[0]:.0f} m; {pop.total:,.0f} people; CRS {pop.grid.crs.to_epsg()}")"""),
        ("md", "## A first map\nSelf-contained: it works offline (Leaflet is inlined)."),
        ("code", """m = maps.study_map(study)
m"""),
    ],
    "02_mobile_coverage.ipynb": [
        ("md", """# 02 · Mobile coverage

Best-server coverage of every operator's 4G and 5G carriers on the population grid, and
the people covered per commune and district (each cell weighted by its exact share inside
the zone, so zone figures add up to the province)."""),
        ("code", SETUP),
        ("code", """from ictplan import workflow
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = workflow.run(study, jobs=["coverage"])
cov = res.coverage
print(res.ran, list(cov.layers))
cov.timings_s"""),
        ("md", "## People covered, per district (any operator)"),
        ("code", """t = cov.table
t[(t["level"] == "districts") & (t["operator"] == "any")].pivot_table(
    index="zone_name", columns="technology", values="pct_covered").round(1)"""),
        ("md", "## Communes with the least 4G coverage"),
        ("code", """c4 = t[(t["level"] == "communes") & (t["operator"] == "any") & (t["technology"] == "4G")]
c4.nsmallest(10, "pct_covered")[["zone_code", "zone_name", "population", "pop_covered", "pct_covered", "mean_user_mbps"]]"""),
        ("md", "## On the map\nCommunes coloured by the share of people covered by 4G; the best-server throughput rasters are layers you can switch on."),
        ("code", """m = maps.results_map(res, column="pct_4g_covered")
m"""),
    ],
    "03_fiber_reach.ipynb": [
        ("md", """# 03 · Fiber reach

Which households and hamlets are within reach of a fiber route, measured along roads and
canal banks, and how many metres of fiber are still missing to reach the rest."""),
        ("code", SETUP),
        ("code", """from ictplan import workflow
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = workflow.run(study, jobs=["fiber"])      # e.g. fiber={"drop_limit_m": 500} to change the drop limit
fib = res.fiber
print(res.parameters["fiber"])
fib.province.T"""),
        ("md", "## Per district"),
        ("code", """fib.districts[["district_name", "households", "households_reachable", "pct_reachable", "hamlets", "hamlets_reached", "missing_fiber_m"]].round(1)"""),
        ("md", "## Hamlets not reached, the closest first"),
        ("code", """fib.unreached_hamlets.nsmallest(10, "missing_fiber_m")[["hamlet_code", "hamlet_name", "commune_code", "households", "missing_fiber_m"]]"""),
        ("md", "## On the map\nCommunes coloured by the share of households within reach; unreached hamlets as a layer."),
        ("code", """m = maps.results_map(res, column="pct_fiber_reachable")
m"""),
    ],
    "04_sharing.ipynb": [
        ("md", """# 04 · Infrastructure sharing

Physical sites and towers from the operators' sector tables and OpenCelliD cells; towers of
different operators close enough to share; poles carrying several operators' cables; fiber
routes of several operators dug along the same corridor."""),
        ("code", SETUP),
        ("code", """from ictplan import workflow
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = workflow.run(study, jobs=["sharing"])
sh = res.sharing
pd.Series(sh.summary).to_frame("value")"""),
        ("md", "## The groups of towers that could merge, most towers saved first"),
        ("code", """sh.groups.drop(columns="geometry").head(10)"""),
        ("md", "## Duplicated fiber corridors (duct-sharing candidates)"),
        ("code", """sh.duplicated.candidates.head(10)"""),
        ("md", "## On the map\nSwitch on the sharing layers in the layer control."),
        ("code", """m = maps.results_map(res)
m"""),
    ],
    "05_scorecard_and_maps.ipynb": [
        ("md", """# 05 · The scorecard, the maps and the report

The plan's targets (`data/targets/camau_2021_2030.toml`) measured on the study for the
province, every district and every commune; then the maps and the one-file HTML report
for leadership, in Vietnamese or English."""),
        ("code", SETUP),
        ("code", """from ictplan import report, workflow
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = workflow.run(study)          # coverage, fiber, sharing and the scorecard, each once
print("ran:", res.ran, "skipped:", res.skipped)
sc = res.scorecard
sc.summary()"""),
        ("md", "## Districts: each target's value and status"),
        ("code", """report.plan_tables(sc, lang="en")["districts"]"""),
        ("md", "## The map with every result layer"),
        ("code", """m = maps.results_map(res, lang="vi")
m"""),
        ("md", "## Save the map and the report\nBoth are single HTML files that open anywhere, without Internet."),
        ("code", """import tempfile
from pathlib import Path
out = Path(tempfile.mkdtemp(prefix="ictplan-"))
map_path = maps.save_html(m, out / "map.html")
page = report.build(res, lang="vi")
report_path = report.save(page, out / "report_vi.html")
print(map_path, f"{map_path.stat().st_size / 1e6:.1f} MB")
print(report_path, f"{report_path.stat().st_size / 1e6:.1f} MB")
assert maps.external_resources(page) == []"""),
    ],
    "06_bring_your_own_data.ipynb": [
        ("md", """# 06 · Bring your own data

Two common sources, and how to turn them into a study:

* an **OpenCelliD** export (`452.csv`, the cells of Vietnam's operators), as downloaded;
* a **GeoPackage saved from QGIS** (for example communes digitised or corrected by the
  province's department), with its own CRS.

Here we make small files of both kinds in a temporary folder so the notebook runs
anywhere; replace the paths with your files."""),
        ("code", """import tempfile, warnings
from pathlib import Path
import geopandas as gpd
import numpy as np
import pandas as pd
import ictplan
from ictplan import datasets, io, maps

work = Path(tempfile.mkdtemp(prefix="ictplan-byod-"))
sample = datasets.camau()
work"""),
        ("md", "## An OpenCelliD CSV\nThe published header is `radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal`. ictplan keeps MCC 452, names the operator from the network code and drops rows without a position (and says how many)."),
        ("code", """rng = np.random.default_rng(0)
n = 200
cells = pd.DataFrame({
    "radio": rng.choice(["LTE", "NR", "UMTS"], n), "mcc": 452, "net": rng.choice([1, 2, 4], n),
    "area": rng.integers(10000, 20000, n), "cell": rng.integers(1, 10**7, n), "unit": 0,
    "lon": rng.uniform(104.9, 105.3, n), "lat": rng.uniform(8.9, 9.4, n), "range": rng.integers(500, 3000, n),
    "samples": rng.integers(1, 50, n), "changeable": 1, "created": 1_600_000_000, "updated": 1_700_000_000,
    "averageSignal": 0})
cells.loc[0, ["lon", "lat"]] = np.nan              # a row without a position: skipped and counted
cells.to_csv(work / "452.csv", index=False)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    mine = io.read_cells(work / "452.csv", bounds_lonlat=sample.bounds_lonlat)
print(len(mine), "cells;", [str(w.message)[:120] for w in caught])
mine.groupby(["operator", "radio"]).size().unstack(fill_value=0)"""),
        ("md", "## A GeoPackage from QGIS\nQGIS often saves in the national VN-2000 CRS or in UTM; ictplan reads the CRS from the file and reprojects for analysis. Required columns are checked, all missing ones reported at once."),
        ("code", """communes = sample.layer("communes").to_crs(32648)   # stand-in for your own edited layer
communes.to_file(work / "my_communes.gpkg", layer="communes", driver="GPKG")
mine_communes = io.read_layer(work / "my_communes.gpkg", "communes", layer="communes")
print(mine_communes.crs, len(mine_communes))"""),
        ("code", """# a layer missing a required column is refused with a message that says how to fix it
bad = communes.drop(columns=["commune_code"])
bad.to_file(work / "bad.gpkg", layer="communes", driver="GPKG")
try:
    io.read_layer(work / "bad.gpkg", "communes", layer="communes")
except ictplan.errors.InputValidationError as err:
    print(type(err).__name__, ":", err)"""),
        ("md", "## Your own column names\nGSO names (`ma_xa`, `ten_xa`, `loai_xa`, `ma_huyen`, `ten_huyen`, `dan_so`, `so_ho`, …) and `azimuth`/`tilt`/`height` are recognised as they are; any other name is mapped in `study.toml`, e.g. `communes = { path = \"my.gpkg\", layer = \"xa\", columns = { commune_code = \"MAXA\" } }`. Since the 2025 reform a district column is optional."),
        ("code", """gso = communes.rename(columns={"commune_code": "ma_xa", "commune_name": "ten_xa"}).drop(columns=["district_code", "district_name"])
gso.to_file(work / "gso_communes.gpkg", layer="xa", driver="GPKG")
read = io.read_layer(work / "gso_communes.gpkg", "communes", layer="xa")
print(read.attrs.get("ictplan_columns"), list(read.columns)[:6])"""),
        ("md", "## Make it a study\nA `study.toml` names the files; paths are relative to the study folder."),
        ("code", """pop_src = sample.root / sample.layer_specs["population"]["path"]
(work / "population.tif").write_bytes(pop_src.read_bytes())
(work / "study.toml").write_text(f'''[study]
name = "My study"
crs = "EPSG:32648"
bounds_lonlat = {list(sample.bounds_lonlat)}

[layers]
communes = {{ path = "my_communes.gpkg", layer = "communes" }}
population = {{ path = "population.tif" }}
cells = {{ path = "452.csv", format = "opencellid" }}
''', encoding="utf-8")
mine_study = ictplan.study.load(work)
[(c.name, c.ok, c.n_features) for c in mine_study.check()]"""),
        ("code", """m = maps.study_map(mine_study, layers=("communes", "districts"))
m"""),
    ],
}


def build(nb_dir: Path = NB_DIR) -> list[Path]:
    nb_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"c{i:02d}"
        nbformat.validate(nb)
        path = nb_dir / name
        nbformat.write(nb, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build(Path(sys.argv[1]) if len(sys.argv) > 1 else NB_DIR):
        print(p)
