"""Build the sample's what-if variant: a planned 2030 5G build-out on every 4G site (SYNTHETIC).

    python scripts/build_camau_2030_variant.py

Reads ``data/camau/sites.csv`` and writes ``data/camau_2030/sites_2030.csv``: today's
sectors plus, at every 4G site that has no 5G yet, three 5G sectors on the operator's 5G
band (Viettel n41, VNPT and MobiFone n78), same azimuths and height, 50 dBm. The other
layers of the variant are today's (``data/camau_2030/study.toml`` points at them), so
``ictplan scorecard data/camau --variant data/camau_2030`` shows what the build-out changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BAND_5G = {"Viettel": "n41", "VNPT": "n78", "MobiFone": "n78"}


def build(sites_csv: Path, out_csv: Path) -> pd.DataFrame:
    sites = pd.read_csv(sites_csv, dtype={"sector_id": str, "site_id": str})
    has_5g = set(sites.loc[sites["technology"] == "5G", "site_id"])
    lte = sites[(sites["technology"] == "4G") & ~sites["site_id"].isin(has_5g) & sites["operator"].isin(BAND_5G)]
    new = lte.copy()
    new["technology"] = "5G"
    new["band"] = new["operator"].map(BAND_5G)
    new["tx_power_dbm"] = 50.0
    # sector ids stay unique: the 5G sectors of a site take the letters after its 4G ones (D, E, F)
    letter = new["sector_id"].str[-1].map({"A": "D", "B": "E", "C": "F"})
    new["sector_id"] = new["sector_id"].str[:-1] + letter
    out = pd.concat([sites, new], ignore_index=True)
    if out["sector_id"].duplicated().any():
        raise ValueError("duplicate sector ids in the variant; the 4G sites must use letters A-C only")
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_csv.with_suffix(".tmp")
    out.to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(out_csv)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=Path, default=REPO / "data" / "camau" / "sites.csv")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "camau_2030" / "sites_2030.csv")
    args = ap.parse_args(argv)
    out = build(args.sites, args.out)
    n5 = out.loc[out["technology"] == "5G", "site_id"].nunique()
    print(f"wrote {args.out}: {len(out)} sectors, {n5} sites with 5G")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
