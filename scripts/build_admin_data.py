"""Copy the real GSO unit lists, the official 2025 old → new mapping, the 2019 census and the
communes' representative points from ../shared/data/camau into data/admin/ (issue 14).

Every file copied is one the shared data README allows to be copied (facts, or MIT); the
census table loses its GADM identifier and name columns (``GID_*``, ``NAME_*``, ...), so no
GADM content is stored. No boundary is copied.

    python scripts/build_admin_data.py [--shared ../shared/data/camau] [--out data/admin]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
COPIED = ["admin_2025_old_to_new.csv", "gso_units_20240501.csv", "gso_units_20250301.csv",
          "commune_points_2019.csv", "commune_points_2019_baclieu.csv", "commune_points_2025.csv",
          "province_outline_geoboundaries.geojson", "worldpop_2020_1km_unadj_camau_baclieu.tif"]
CENSUS = "census2019_communes_camau_baclieu.csv"
_GADM_COLUMNS = ("GID_", "NAME_", "VARNAME_", "TYPE_", "ENGTYPE_", "OLD_PROVINCE", "NEW_PROVINCE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data" / "camau")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "admin")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        shutil.copyfile(a.shared / name, a.out / name)
    census = pd.read_csv(a.shared / CENSUS, dtype={"ma_tinh": str, "ma_huyen": str, "ma_xa": str})
    keep = [c for c in census.columns if not c.startswith(_GADM_COLUMNS)]
    census[keep].to_csv(a.out / "census2019_communes.csv", index=False, lineterminator="\n")
    print(f"wrote {len(COPIED) + 1} files to {a.out}")


if __name__ == "__main__":
    main()
