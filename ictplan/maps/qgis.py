"""A QGIS project (``ictplan.qgs``) beside an output folder, its layers styled like the web map.

:func:`write_qgis_project` looks for what the analyses wrote in the folder (``coverage/``,
``fiber/``, ``sharing/``, ``scorecard/``) and writes one project file that opens them with
paths relative to itself (the folder can be moved or zipped whole):

* cell sites coloured by operator (:data:`~ictplan.maps.OPERATOR_COLOURS`);
* the hamlets fiber does not reach, and the road/canal network (off);
* the 4G and 5G busy-hour throughput rasters (off; over the communes when on, as in the web map);
* people covered by 4G and by 5G per commune, classed as the web map classes them
  (:func:`~ictplan.maps.classify` with the plan's thresholds as bounds, the purple scale);
* the scorecard's status of 5G coverage (M3) per commune, green / red / grey as in the report (off);
* with a plan (``plan/plan.gpkg``): per phase, the proposed 5G sites by kind, the new fiber and the
  postal points, and the ranked data-centre sites, in the web map's plan colours (:mod:`.planlayers`).

The file is QGIS project XML (QGIS 3.x); every layer name is in the reader's language.
Nothing is run: only files already written are named.
"""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import OutputExistsError
from .base import OPERATOR_COLOURS
from .layers import CHOROPLETH_CMAP, PERCENT_THRESHOLDS, _palette, classify

__all__ = ["write_qgis_project", "project_layers"]

_NAMES = {
    "vi": {"sites": "Trạm BTS theo nhà mạng", "unreached": "Ấp, khóm chưa có cáp quang", "network": "Mạng đường bộ, bờ kênh",
           "tput_4g": "Tốc độ 4G giờ cao điểm (Mb/s)", "tput_5g": "Tốc độ 5G giờ cao điểm (Mb/s)",
           "pct_4g": "Dân số được phủ sóng 4G theo xã (%)", "pct_5g": "Dân số được phủ sóng 5G theo xã (%)",
           "status": "Chỉ tiêu {tid}: tình trạng theo xã", "met": "đạt", "not met": "chưa đạt", "no data": "chưa có dữ liệu",
           "not applicable": "không áp dụng", "other": "khác", "title": "ictplan: bản đồ của nghiên cứu"},
    "en": {"sites": "Cell sites by operator", "unreached": "Hamlets without fiber", "network": "Road and canal network",
           "tput_4g": "4G busy-hour throughput (Mb/s)", "tput_5g": "5G busy-hour throughput (Mb/s)",
           "pct_4g": "People covered by 4G per commune (%)", "pct_5g": "People covered by 5G per commune (%)",
           "status": "Target {tid}: status per commune", "met": "met", "not met": "not met", "no data": "no data",
           "not applicable": "not applicable", "other": "other", "title": "ictplan: the study's map"},
}
_STATUS_COLOURS = {"met": "#a6dba0", "not met": "#f4a582", "no data": "#e0e0e0", "not applicable": "#ffffff"}
_RASTER_RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")  # viridis, as the web map's rasters


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"


def _options(parent: ET.Element, values: dict[str, str]) -> None:
    opt = ET.SubElement(parent, "Option", type="Map")
    for k, v in values.items():
        ET.SubElement(opt, "Option", name=k, type="QString", value=v)


def _symbol(kind: str, name: str, colour: str, alpha: float = 1.0) -> ET.Element:
    """One QGIS symbol: ``kind`` "fill", "line" or "marker"; ``alpha`` its opacity."""
    sym = ET.Element("symbol", type=kind, name=name, alpha=f"{alpha:g}", clip_to_extent="1", force_rhr="0")
    cls = {"fill": "SimpleFill", "line": "SimpleLine", "marker": "SimpleMarker"}[kind]
    lay = ET.SubElement(sym, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    if kind == "fill":
        _options(lay, {"color": _rgba(colour), "style": "solid", "outline_color": "85,85,85,255",
                       "outline_style": "solid", "outline_width": "0.2", "outline_width_unit": "MM"})
    elif kind == "line":
        _options(lay, {"line_color": _rgba(colour), "line_style": "solid", "line_width": "0.3", "line_width_unit": "MM"})
    else:
        _options(lay, {"color": _rgba(colour), "name": "circle", "size": "1.8", "size_unit": "MM",
                       "outline_color": "51,51,51,255", "outline_width": "0.1", "outline_style": "solid"})
    return sym


def _graduated(column: str, values: np.ndarray, lang: str) -> ET.Element:
    """A graduated renderer with the web map's classes (the plan's thresholds as bounds, none empty)."""
    from ..report.numbers import number

    bounds, _ = classify(values, scheme="quantiles", k=5, thresholds=PERCENT_THRESHOLDS)
    colours = _palette(CHOROPLETH_CMAP, len(bounds))
    ren = ET.Element("renderer-v2", type="graduatedSymbol", attr=column, graduatedMethod="GraduatedColor",
                     symbollevels="0", enableorderby="0", forceraster="0")
    ranges, symbols = ET.SubElement(ren, "ranges"), ET.SubElement(ren, "symbols")
    lo = float(np.nanmin(values))
    for i, (hi, colour) in enumerate(zip(bounds, colours, strict=True)):
        label = f"{number(lo, lang)} – {number(float(hi), lang)}"
        ET.SubElement(ranges, "range", lower=f"{lo:.6f}", upper=f"{float(hi):.6f}", symbol=str(i), label=label,
                      render="true")
        symbols.append(_symbol("fill", str(i), colour))
        lo = float(hi)
    return ren


def _categorized(column: str, categories: Sequence[tuple[str, str, str]], kind: str, other: str) -> ET.Element:
    """``categories``: (value, label, colour); values not listed show grey (``other``)."""
    ren = ET.Element("renderer-v2", type="categorizedSymbol", attr=column, symbollevels="0", enableorderby="0",
                     forceraster="0")
    cats, symbols = ET.SubElement(ren, "categories"), ET.SubElement(ren, "symbols")
    for i, (value, label, colour) in enumerate([*categories, ("", other, "#999999")]):
        ET.SubElement(cats, "category", value=value, symbol=str(i), label=label, render="true")
        symbols.append(_symbol(kind, str(i), colour))
    return ren


def _single(kind: str, colour: str, alpha: float = 1.0) -> ET.Element:
    ren = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0", forceraster="0")
    ET.SubElement(ren, "symbols").append(_symbol(kind, "0", colour, alpha))
    return ren


def _raster_pipe(vmax: float, opacity: float = 0.65) -> ET.Element:
    pipe = ET.Element("pipe")
    rr = ET.SubElement(pipe, "rasterrenderer", type="singlebandpseudocolor", band="1", opacity=f"{opacity}",
                       alphaBand="-1", classificationMin="0", classificationMax=f"{vmax:.6g}")
    ramp = ET.SubElement(ET.SubElement(rr, "rastershader"), "colorrampshader", colorRampType="INTERPOLATED",
                         classificationMode="1", clip="0")
    for i, colour in enumerate(_RASTER_RAMP):
        v = vmax * i / (len(_RASTER_RAMP) - 1)
        ET.SubElement(ramp, "item", alpha="255", value=f"{v:.6g}", label=f"{v:.0f}", color=colour)
    return pipe


def _srs(crs: Any) -> ET.Element:
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    auth = c.to_authority()
    with warnings.catch_warnings():  # QGIS reads the WKT first; the PROJ string is only a fallback
        warnings.simplefilter("ignore", UserWarning)
        proj4 = c.to_proj4()
    el = ET.Element("spatialrefsys", nativeFormat="Wkt")
    for tag, text in (("wkt", c.to_wkt()), ("proj4", proj4), ("srsid", "0"),
                      ("srid", auth[1] if auth else "0"), ("authid", ":".join(auth) if auth else ""),
                      ("description", c.name), ("geographicflag", "true" if c.is_geographic else "false")):
        ET.SubElement(el, tag).text = text
    return el


def _read_column(path: Path, layer: str, column: str) -> np.ndarray | None:
    import pyogrio

    try:
        df = pyogrio.read_dataframe(path, layer=layer, columns=[column], read_geometry=False)
    except Exception:  # noqa: BLE001  # a layer or column not there: the project leaves that layer out
        return None
    if column not in df.columns:
        return None
    v = np.asarray(df[column], dtype="float64")
    return v if np.isfinite(v).any() else None


def _raster_max(path: Path) -> float:
    import rasterio

    with rasterio.open(path) as ds:
        a = ds.read(1, masked=True).astype("float64").filled(np.nan)
    v = a[np.isfinite(a)]
    return float(np.percentile(v, 99)) if v.size and np.percentile(v, 99) > 0 else 1.0


def _phases(path: Path, layer: str) -> list[str]:
    import pyogrio

    try:
        df = pyogrio.read_dataframe(path, layer=layer, columns=["phase"], read_geometry=False)
    except Exception:  # noqa: BLE001  # no such layer: nothing to show
        return []
    return sorted({str(p) for p in df["phase"].dropna()}) if "phase" in df.columns else [""]


def _plan_layers(root: Path, lang: str) -> list[dict[str, Any]]:
    """The plan's layers (``plan/plan.gpkg``), one per phase, in the web map's colours and words
    (:mod:`.planlayers`): 5G sites by kind, new fiber, postal points; the ranked data-centre sites."""
    from .planlayers import _WORDS, KIND_COLOURS

    path = root / "plan" / "plan.gpkg"
    if not path.exists():
        return []
    P = _WORDS["vi" if lang == "vi" else "en"]
    out: list[dict[str, Any]] = []
    kinds = [(k, P[k], c) for k, c in KIND_COLOURS.items()]
    for layer, key, make in (("sites_5g", "sites", lambda: _categorized("kind", kinds, "marker", P["kind"])),
                             ("fiber_extension", "fiber", lambda: _single("line", "#d81b60")),
                             ("postal_points", "postal", lambda: _single("marker", "#795548"))):
        for ph in _phases(path, layer):
            out.append({"path": path, "layer": layer, "name": P[key].format(p=ph).strip(), "geometry":
                        "Line" if layer == "fiber_extension" else "Point", "show": key != "postal", "renderer": make(),
                        "subset": f"\"phase\" = '{ph}'" if ph else ""})
    if _phases(path, "datacentre_sites"):
        out.append({"path": path, "layer": "datacentre_sites", "name": P["dc"], "geometry": "Point", "show": False,
                    "renderer": _single("marker", "#000000")})
    return out


def _vector_layers(root: Path, W: dict[str, str], lang: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    sharing, fiber, cov = root / "sharing" / "sharing.gpkg", root / "fiber" / "fiber.gpkg", root / "coverage" / "coverage.gpkg"
    if sharing.exists():
        cats = [(op, op, colour) for op, colour in OPERATOR_COLOURS.items()]
        out.append({"path": sharing, "layer": "sites", "name": W["sites"], "geometry": "Point", "show": True,
                    "renderer": _categorized("operator", cats, "marker", W["other"])})
    if fiber.exists():
        out.append({"path": fiber, "layer": "unreached_hamlets", "name": W["unreached"], "geometry": "Polygon",
                    "show": True, "renderer": _single("fill", "#e6550d", 0.45)})  # the communes' colours show through
        out.append({"path": fiber, "layer": "network_edges", "name": W["network"], "geometry": "Line", "show": False,
                    "renderer": _single("line", "#969696")})
    for key, col, show in (("pct_4g", "pct_covered_4g_any", True), ("pct_5g", "pct_covered_5g_any", False)):
        vals = _read_column(cov, "coverage_communes", col) if cov.exists() else None
        if vals is not None:
            out.append({"path": cov, "layer": "coverage_communes", "name": W[key], "geometry": "Polygon", "show": show,
                        "renderer": _graduated(col, vals, lang), "below_rasters": True})
    return out


def _status_layer(root: Path, W: dict[str, str]) -> dict[str, Any] | None:
    import pyogrio

    path = root / "scorecard" / "scorecard.gpkg"
    if not path.exists():
        return None
    try:
        look = pyogrio.read_dataframe(path, layer="targets").set_index("target_id")
    except Exception:  # noqa: BLE001  # an older scorecard without its lookup table
        return None
    tid = "M3" if "M3" in look.index else str(look.index[0])
    cats = [(st, W[st], colour) for st, colour in _STATUS_COLOURS.items()]
    return {"path": path, "layer": "communes", "name": W["status"].format(tid=tid), "geometry": "Polygon", "show": False,
            "renderer": _categorized(f"{look.loc[tid, 'field_prefix']}_status", cats, "fill", W["other"]),
            "below_rasters": True}


def project_layers(out_dir: str | os.PathLike[str], /, *, lang: str = "vi") -> list[dict[str, Any]]:
    """The layers the project will hold, top first: ``{"path", "layer" (GeoPackage layer or None),
    "name", "geometry" ("Point", "Line", "Polygon" or None for a raster), "show", "renderer" or "pipe"}``."""
    root = Path(out_dir)
    W = _NAMES["vi" if lang == "vi" else "en"]
    vectors = _plan_layers(root, lang) + _vector_layers(root, W, lang)
    status = _status_layer(root, W)
    rasters = []
    for key, tech in (("tput_4g", "4G"), ("tput_5g", "5G")):
        tif = root / "coverage" / f"coverage_{tech}_any_tput_mbps.tif"
        if tif.exists():
            rasters.append({"path": tif, "layer": None, "name": W[key], "geometry": None, "show": False,
                            "pipe": _raster_pipe(_raster_max(tif))})
    top = [v for v in vectors if not v.get("below_rasters")]
    below = [v for v in vectors if v.get("below_rasters")] + ([status] if status else [])
    return top + rasters + below  # rasters draw above the commune colours, as in the web map


def _maplayer(spec: dict[str, Any], lid: str, source: str, srs: ET.Element) -> ET.Element:
    raster = spec["geometry"] is None
    attrs = {"type": "raster"} if raster else {"type": "vector", "geometry": spec["geometry"]}
    ml = ET.Element("maplayer", attrs)
    for tag, text in (("id", lid), ("datasource", source), ("layername", spec["name"])):
        ET.SubElement(ml, tag).text = text
    ET.SubElement(ml, "srs").append(srs)
    ET.SubElement(ml, "provider", encoding="UTF-8").text = "gdal" if raster else "ogr"
    ml.append(spec["pipe"] if raster else spec["renderer"])
    return ml


def write_qgis_project(out_dir: str | os.PathLike[str], /, *, crs: Any, lang: str = "vi", name: str = "ictplan.qgs",
                       title: str | None = None, overwrite: bool = False) -> Path | None:
    """Write ``out_dir/name``: a QGIS project of the outputs found in ``out_dir`` (None: none found).

    ``crs``: the study's working CRS (the project's and every layer's). Paths are relative
    to the project file.

    Raises
    ------
    OutputExistsError
        The file exists and ``overwrite`` is false.
    """
    from .. import io as _io

    root = Path(out_dir)
    target = root / name
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} already exists. Pass overwrite=True (CLI: --overwrite) to replace it.")
    layers = project_layers(root, lang=lang)
    if not layers:
        return None
    W = _NAMES["vi" if lang == "vi" else "en"]
    qgis = ET.Element("qgis", projectname=title or W["title"], version="3.22.0")
    ET.SubElement(qgis, "homePath", path="")
    ET.SubElement(qgis, "title").text = title or W["title"]
    ET.SubElement(qgis, "projectCrs").append(_srs(crs))
    tree, maps = ET.SubElement(qgis, "layer-tree-group"), ET.SubElement(qgis, "projectlayers")
    for i, spec in enumerate(layers):
        lid = f"ictplan_layer_{i:02d}"  # QGIS keeps a layer id only when longer than 10 characters
        rel = "./" + spec["path"].relative_to(root).as_posix()
        source = rel + (f"|layername={spec['layer']}" if spec["layer"] else "") + (
            f"|subset={spec['subset']}" if spec.get("subset") else "")  # one phase of a plan layer
        ET.SubElement(tree, "layer-tree-layer", id=lid, name=spec["name"], source=source,
                      providerKey="gdal" if spec["geometry"] is None else "ogr",
                      checked="Qt::Checked" if spec["show"] else "Qt::Unchecked", expanded="0")
        maps.append(_maplayer(spec, lid, source, _srs(crs)))
    props = ET.SubElement(qgis, "properties")
    ET.SubElement(ET.SubElement(props, "Paths"), "Absolute", type="bool").text = "false"
    srs = ET.SubElement(props, "SpatialRefSys")  # QGIS reads projectCrs only with ProjectionsEnabled
    ET.SubElement(srs, "ProjectionsEnabled", type="int").text = "1"
    ET.SubElement(srs, "ProjectCrs", type="QString").text = _srs(crs).findtext("authid") or ""
    ET.indent(qgis)
    text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(qgis, encoding="unicode") + "\n"
    with _io.atomic_path(target, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target
