"""Layer schemas: the columns, geometry kind and id of every layer a study can hold.

This is the contract between the loaders (:mod:`ictplan.io`), the sample builder
(``scripts/build_camau_sample.py``) and the analyses. Loaders check required columns
(all missing ones are reported at once), the geometry kind and the id's uniqueness.
Optional columns get the default shown when absent.

All vector layers are returned in the file's CRS; analyses project to the study's
working CRS (UTM 48N, EPSG:32648, for Cà Mau).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LayerSchema", "SCHEMAS", "OPERATORS_MCC452", "LAYER_NAMES"]


@dataclass(frozen=True)
class LayerSchema:
    """What one layer must hold.

    ``geometry`` is one of "polygon", "line", "point" (multi-parts accepted).
    ``required`` maps column -> kind ("str", "int", "float", "bool").
    ``optional`` maps column -> default value used when the column is absent.
    ``choices`` maps column -> allowed values (checked case-insensitively for str).
    ``kinds`` maps an optional column -> kind, coerced like a required one when present.
    ``aliases`` maps a column name found in planners' files (GSO / Vietnamese) -> the
    schema's name; matched case-insensitively and renamed without a ``columns =`` mapping.
    """

    name: str
    geometry: str
    id_column: str | None
    required: dict[str, str]
    optional: dict[str, object] = field(default_factory=dict)
    choices: dict[str, tuple] = field(default_factory=dict)
    description: str = ""
    kinds: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the schema names (required, then optional)."""
        return tuple(self.required) + tuple(c for c in self.optional if c not in self.required)


# MCC 452 (Vietnam) mobile network codes -> operator names used throughout ictplan
OPERATORS_MCC452 = {
    1: "MobiFone",
    2: "VNPT",  # VinaPhone
    4: "Viettel",
    5: "Vietnamobile",
    7: "Gmobile",
}

_OPERATORS = tuple(OPERATORS_MCC452.values())

# GSO unit lists and Vietnamese boundary files name their columns like this.
_COMMUNE_ALIASES = {
    "ma_xa": "commune_code", "maxa": "commune_code",
    "ten_xa": "commune_name", "tenxa": "commune_name",
    "loai_xa": "commune_type", "loaixa": "commune_type",
    "ma_huyen": "district_code", "mahuyen": "district_code",
    "ten_huyen": "district_name", "tenhuyen": "district_name",
    "ma_tinh": "province_code", "matinh": "province_code",
    "ten_tinh": "province_name", "tentinh": "province_name",
    "dan_so": "pop2019", "danso": "pop2019",
    "so_ho": "hh2019", "soho": "hh2019",
}
_IN_COMMUNE = {"ma_xa": "commune_code", "maxa": "commune_code"}
_SECTOR_ALIASES = {
    "azimuth": "azimuth_deg", "tilt": "tilt_deg", "etilt": "etilt_deg",
    "height": "height_m", "tx_power": "tx_power_dbm",
}

SCHEMAS: dict[str, LayerSchema] = {
    s.name: s
    for s in [
        LayerSchema(
            "communes",
            "polygon",
            "commune_code",
            {
                "commune_code": "str",  # GSO ma_xa, 5 digits
                "commune_name": "str",  # with diacritics, NFC
                "commune_type": "str",  # Xã / Phường / Thị trấn
            },
            # districts are optional: Vietnam has had no district level since 1 July 2025
            {"district_code": None, "district_name": None, "pop2019": None, "hh2019": None, "pop2019_urban": None},
            description="Commune-level units (xã, phường, thị trấn).",
            kinds={"district_code": "str", "district_name": "str"},
            aliases=_COMMUNE_ALIASES,
        ),
        LayerSchema(
            "hamlets",
            "polygon",  # points accepted too (see io.read_hamlets)
            "hamlet_code",
            {"hamlet_code": "str", "hamlet_name": "str", "commune_code": "str"},
            {"households": None, "hamlet_kind": "ấp"},
            choices={"hamlet_kind": ("ấp", "khóm")},
            description="Hamlets (ấp, rural) and urban quarters (khóm).",
            aliases={**_IN_COMMUNE, "ma_ap": "hamlet_code", "ten_ap": "hamlet_name", "so_ho": "households",
                     "soho": "households"},
        ),
        LayerSchema(
            "sites",
            "point",
            "sector_id",
            {
                "sector_id": "str",
                "site_id": "str",
                "operator": "str",
                "technology": "str",  # 4G / 5G
                "band": "str",  # e.g. B3, n41, n78 (profile key)
                "azimuth_deg": "float",  # 0-360, clockwise from north; NaN = omni
                "height_m": "float",  # antenna height above ground
            },
            {"tilt_deg": 4.0, "etilt_deg": 0.0, "tx_power_dbm": None},
            choices={"technology": ("4G", "5G"), "operator": _OPERATORS},
            description="An operator's site/sector table (one row per sector).",
            kinds={"tilt_deg": "float", "etilt_deg": "float", "tx_power_dbm": "float"},
            aliases=_SECTOR_ALIASES,
        ),
        LayerSchema(
            "roads",
            "line",
            None,
            {"kind": "str"},
            {"name": "", "road_class": "", "crossing_cost_m": 0.0},
            choices={"kind": ("road", "canal", "river", "bridge", "ferry")},
            description="Roads and canal banks, with bridges and ferries as crossings.",
        ),
        LayerSchema(
            "fiber_routes",
            "line",
            "route_id",
            {"route_id": "str", "operator": "str", "technology": "str", "placement": "str"},
            {"owner": None},
            choices={
                "technology": ("GPON", "XGS-PON"),
                "placement": ("aerial", "duct", "buried"),
            },
            description="Fiber cable routes per operator.",
        ),
        LayerSchema(
            "copper_routes",
            "line",
            "route_id",
            {"route_id": "str", "operator": "str", "technology": "str"},
            {},
            choices={"technology": ("ADSL", "VDSL")},
            description="Copper (xDSL) routes, mostly in old urban areas.",
        ),
        LayerSchema(
            "poles",
            "point",
            "pole_id",
            {"pole_id": "str", "owner": "str"},
            {"max_cables": 6},
            description="Utility poles.",
        ),
        LayerSchema(
            "spans",
            "line",
            "span_id",
            {"span_id": "str", "kind": "str", "operators": "str"},
            {"from_pole": None, "to_pole": None, "cable_count": None},
            choices={"kind": ("aerial", "duct")},
            description="Pole-to-pole aerial spans and duct sections; `operators` is "
            "a ';'-separated list of the operators whose cables ride on it.",
        ),
        LayerSchema(
            "access_points",
            "point",
            "ap_id",
            {"ap_id": "str", "operator": "str", "technology": "str"},
            {"route_id": None, "ports": None, "split_ratio": None},
            choices={"technology": ("GPON", "XGS-PON")},
            description="Fiber access points (splitter / FAT / cabinet); `ports`: free drop ports, "
            "`split_ratio`: ONTs per PON port (empty: [parameters.fiber] defaults).",
            kinds={"ports": "float", "split_ratio": "float"},
        ),
        LayerSchema(
            "postal_points",
            "point",
            "point_id",
            {
                "point_id": "str",
                "name": "str",
                "commune_code": "str",
                "staffed": "bool",
                "internet": "bool",
                "online_services": "bool",
            },
            {"kind": "post_office"},
            description="Postal service points (bưu cục, điểm bưu điện văn hóa xã).",
            aliases=_IN_COMMUNE,
        ),
        LayerSchema(
            "facilities",
            "point",
            "facility_id",
            {"facility_id": "str", "name": "str", "kind": "str", "commune_code": "str"},
            {"level": None, "urban": False},
            choices={
                "kind": (
                    "agency",
                    "commune_office",
                    "health_station",
                    "hospital",
                    "school",
                    "data_centre",
                ),
                "level": ("province", "district", "commune"),
            },
            description="Public facilities: State agencies by level, commune offices, "
            "health stations, hospitals, schools, data centres.",
            aliases=_IN_COMMUNE,
        ),
        LayerSchema(
            "buildings",
            "polygon",  # points accepted too (ictplan.io.read_buildings)
            None,
            {},
            {"area_m2": None, "confidence": None},
            description="Building footprints or points (e.g. Google Open Buildings): households are placed on "
            "them by area (ictplan.households.households_from_buildings). `area_m2`: footprint area (empty: "
            "from the polygon); `confidence`: detection score 0-1 (empty: not filtered).",
            kinds={"area_m2": "float", "confidence": "float"},
            aliases={"area_in_meters": "area_m2"},
        ),
        LayerSchema(
            "dtt_transmitters",
            "point",
            "tx_id",
            {"tx_id": "str", "name": "str", "freq_mhz": "float", "erp_dbm": "float",
             "height_m": "float"},
            {},
            description="Digital terrestrial TV (DVB-T2) transmitters.",
        ),
        # the planner's layers (ictplan.planning.datacentre); `source` says where a feature comes from
        LayerSchema(
            "substations",
            "point",
            "substation_id",
            {"substation_id": "str", "name": "str", "voltage_kv": "float"},
            {"source": None},
            description="High-voltage substations (110 / 220 / 500 kV) of the power grid.",
        ),
        LayerSchema(
            "energy_zones",
            "polygon",
            "zone_id",
            {"zone_id": "str", "name": "str", "kind": "str"},
            {"source": None},
            choices={"kind": ("wind", "solar", "industrial", "power", "other")},
            description="Zones of the provincial energy plan: wind and solar power, power plants, industrial parks.",
        ),
        LayerSchema(
            "protected_areas",
            "polygon",
            "area_id",
            {"area_id": "str", "name": "str", "kind": "str"},
            {"source": None},
            choices={"kind": ("special_use", "protection", "other")},
            description="Protected forest: special-use (national parks, rừng đặc dụng) and protection "
            "forest (coastal mangrove belts, rừng phòng hộ); no data centre is sited in them.",
        ),
    ]
}

LAYER_NAMES = tuple(SCHEMAS) + ("population", "landcover", "elevation", "districts", "cells")
