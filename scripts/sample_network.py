"""The synthetic telecom network of the embedded samples: fiber and copper routes, access
points, poles and spans, built on a sample's road graph (seeded, reproducible).

Called by ``scripts/build_camau_sample.py`` with its ``ctx`` (communes, hamlets, roads,
population grid, random generator). Everything here is SYNTHETIC; see ``data/README.md``.
"""

from __future__ import annotations

import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

CRS = "EPSG:32648"
RES_M = 100.0
REMOTE_DISTRICTS = ("Huyện Ngọc Hiển", "Huyện U Minh", "Huyện Đầm Dơi", "Huyện Năm Căn")
EXCLUDED_HAMLETS_FRAC = 0.065  # hamlets deliberately beyond fiber (the remotest, in REMOTE_DISTRICTS)
AP_STEP_M = 190.0  # access points every ~220 m along the distribution routes ...
AP_GAP_M = 140.0  # ... at least this far from any other operator's


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", str(s))


def hamlet_anchor(geom) -> shapely.Point:
    """The hamlet's centre used by the road builder: centroid, or a point on the surface."""
    c = geom.centroid
    return c if geom.contains(c) else geom.representative_point()


# --------------------------------------------------------------------------------------
# a road graph for fiber/copper/poles
# --------------------------------------------------------------------------------------
def road_graph(roads: gpd.GeoDataFrame):
    sel = roads[roads.kind.isin(["road", "bridge"])]
    noded = shapely.get_parts(shapely.union_all(sel.geometry.to_numpy()))
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(noded, 0)),
                      shapely.get_coordinates(shapely.get_point(noded, -1))])
    uniq, inv = np.unique(ends, axis=0, return_inverse=True)
    m = len(noded)
    a, b = inv[:m], inv[m:]
    L = shapely.length(noded)
    # class of each noded piece (from the road it lies on)
    tree = shapely.STRtree(sel.geometry.to_numpy())
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    near = tree.query_nearest(mid, all_matches=False)[1]
    cls = sel.road_class.to_numpy()[near]
    name = sel.name.to_numpy()[near]
    G = sparse.coo_matrix((L, (a, b)), shape=(len(uniq),) * 2).tocsr()
    G = G + G.T
    edge_of = {}
    for k, (u, v) in enumerate(zip(a, b, strict=True)):
        edge_of[(u, v)] = k
        edge_of[(v, u)] = k
    return {"nodes": uniq, "edges": noded, "a": a, "b": b, "len": L, "cls": cls, "name": name,
            "csr": G, "edge_of": edge_of, "tree": cKDTree(uniq)}


def tree_edges(pred: np.ndarray, targets, edge_of: dict) -> list[int]:
    """Edges of the shortest-path tree from the sources to all targets (each once)."""
    out, seen = [], set()
    for t in targets:
        v = int(t)
        while pred[v] >= 0 and v not in seen:
            seen.add(v)
            u = int(pred[v])
            out.append(edge_of[(u, v)])
            v = u
    return out


def path_edges(pred: np.ndarray, target: int, edge_of: dict) -> list[int]:
    out = []
    v = target
    while pred[v] >= 0:
        u = pred[v]
        out.append(edge_of[(u, v)])
        v = u
    return out


def merged(geoms) -> shapely.Geometry:
    g = shapely.line_merge(shapely.union_all(list(geoms)))
    return g


# --------------------------------------------------------------------------------------
# fiber, copper, access points, poles and spans
# --------------------------------------------------------------------------------------
def build_fiber(ctx):
    rng, roads, communes, hamlets = ctx["rng"], ctx["roads"], ctx["communes"], ctx["hamlets"]
    G = road_graph(roads)
    ctx["G"] = G
    _nodes, tree = G["nodes"], G["tree"]
    city = ctx["city"]
    duct_zone = shapely.Point(city).buffer(1300)
    wards = shapely.union_all(communes[(communes.district_name == nfc("Thành phố Cà Mau"))
                                       & (communes.commune_type == "Phường")].geometry.to_numpy())
    ctx["wards"] = wards
    ctx["duct_zone"] = duct_zone
    bb = np.isin(G["cls"], ["national", "provincial"])
    bb_nodes = np.unique(np.r_[G["a"][bb], G["b"][bb]])
    dist, pred, src = csgraph.dijkstra(G["csr"], directed=False, indices=bb_nodes,
                                       return_predecessors=True, min_only=True)
    anchors = np.array([[a.x, a.y] for a in map(hamlet_anchor, hamlets.geometry)])
    h_node = tree.query(anchors)[1]
    c_node = tree.query(ctx["pts"][["x", "y"]].to_numpy())[1]
    hd = dist[h_node]
    # hamlets deliberately beyond fiber: the remotest in the mangrove/forest districts
    dname = communes.set_index("commune_code").district_name
    hdist = hamlets.commune_code.map(dname).to_numpy()
    remote_d = np.isin(hdist, [nfc(d) for d in REMOTE_DISTRICTS])
    n_excl = round(EXCLUDED_HAMLETS_FRAC * len(hamlets))
    cand = np.flatnonzero(remote_d)
    excl = set(cand[np.argsort(-hd[cand], kind="stable")[:n_excl]].tolist())
    # every road node belongs to the hamlet it lies in (-1: on a boundary or outside)
    node_h = np.full(len(G["nodes"]), -1)
    pi, hi = shapely.STRtree(hamlets.geometry.to_numpy()).query(shapely.points(G["nodes"]), predicate="within")
    node_h[pi] = hi
    mid_h = np.full(len(G["edges"]), -1)
    pi, hi = shapely.STRtree(hamlets.geometry.to_numpy()).query(
        shapely.line_interpolate_point(G["edges"], 0.5, normalized=True), predicate="within")
    mid_h[pi] = hi
    h_edges = pd.Series(np.arange(len(mid_h))[mid_h >= 0]).groupby(mid_h[mid_h >= 0]).agg(list).to_dict()

    def e_by_h(hsel):
        return [e for k in hsel for e in h_edges.get(k, [])]

    h_nodes = pd.Series(np.arange(len(node_h))[node_h >= 0]).groupby(node_h[node_h >= 0]).agg(list).to_dict()
    routes = []
    edge_users: dict[int, list[tuple[str, str]]] = {}

    def add_route(op, edges, tech, owner, kind):
        if not edges:
            return
        geoms = G["edges"][sorted(set(edges))]
        inzone = shapely.within(geoms, duct_zone)
        if shapely.length(geoms[inzone]).sum() < 150:  # too little for a duct route
            inzone[:] = False
        for placement, sel in (("duct", inzone), ("aerial", ~inzone)):
            if not sel.any():
                continue
            rid = f"{op[:3].upper()}-F-{len(routes) + 1:04d}"
            routes.append({"route_id": rid, "operator": op, "technology": tech, "placement": placement,
                           "owner": owner, "geometry": merged(geoms[sel]), "_kind": kind})
            for e in np.array(sorted(set(edges)))[sel]:
                edge_users.setdefault(int(e), []).append((op, rid))

    # backbones along national and provincial roads: Viettel and VNPT, parallel 3-10 m apart
    bb_names = sorted(set(G["name"][bb]))
    for nm in bb_names:
        e = np.flatnonzero(bb & (G["name"] == nm))
        base_line = merged(G["edges"][e])
        for op, off in (("Viettel", 6.0), ("VNPT", -4.0)):
            parts = [shapely.offset_curve(p, off, join_style="mitre", mitre_limit=2.0)
                     for p in shapely.get_parts(base_line)]
            parts = [q for p in parts for q in shapely.get_parts(p) if not q.is_empty]
            geom = shapely.multilinestrings(parts) if len(parts) > 1 else parts[0]
            rid = f"{op[:3].upper()}-B-{len(routes) + 1:04d}"
            routes.append({"route_id": rid, "operator": op, "technology": "GPON", "placement": "aerial",
                           "owner": op, "geometry": geom, "_kind": "backbone"})
            for k in e:
                edge_users.setdefault(int(k), []).append((op, rid))
    # distribution: per commune, along the road tree from the backbone to hamlets
    in_city = communes.district_name.to_numpy() == nfc("Thành phố Cà Mau")
    code_arr = hamlets.commune_code.to_numpy()
    for i, c in enumerate(communes.itertuples()):
        ops = []
        if rng.random() < 0.93 or in_city[i]:
            ops.append("Viettel")
        if rng.random() < 0.72 or in_city[i] or c.commune_type != "Xã":
            ops.append("VNPT")
        if not ops:
            ops.append("VNPT")
        if c.commune_type != "Xã" and in_city[i]:
            ops.append("FPT")
        hs = [k for k in np.flatnonzero(code_arr == c.commune_code) if k not in excl]
        targets = [c_node[i]] + [h_node[k] for k in hs]

        def along(hsel, i=i):  # the commune centre, the hamlet centres and every road node in them
            return [c_node[i]] + [n for k in hsel for n in [h_node[k]] + h_nodes.get(k, [])]

        for op in ops:
            if op == "FPT":
                tg = along(hs[: max(1, len(hs) // 2)])
            elif op == "VNPT" and "Viettel" in ops:  # VNPT reaches most of the hamlets Viettel reaches
                tg = along([k for k in hs if rng.random() < 0.8])
            else:
                tg = along(hs)
            edges = tree_edges(pred, tg, G["edge_of"])
            if op != "FPT":  # and the loops: every road edge inside the hamlets served
                edges += e_by_h(hs if op == "Viettel" or "Viettel" not in ops else
                                [k for k in hs if rng.random() < 0.8])
            tech = "XGS-PON" if in_city[i] else "GPON"
            owner = op
            add_route(op, edges, tech, owner, "distribution")
        if c.commune_type != "Xã" and rng.random() < 0.7:  # MobiFone leases fiber in towns
            edges = []
            for t in targets[:3]:
                edges += path_edges(pred, t, G["edge_of"])
            add_route("MobiFone", edges, "GPON", str(rng.choice(["VNPT", "Viettel"])), "leased")
    fiber = gpd.GeoDataFrame(routes, crs=CRS)
    # measured reach: hamlets whose anchor lies > 1 km from any fiber route
    fl = shapely.STRtree(fiber.geometry.to_numpy())
    dd = fl.query_nearest(shapely.points(anchors), return_distance=True, all_matches=False)[1]
    report = {"hamlets_beyond_fiber_1km": int((dd > 1000).sum()),
              "hamlets_excluded": len(excl)}
    info = {"edge_users": edge_users, "report": report}
    # copper: VNPT xDSL in city wards and district towns
    cop = []
    for i, c in enumerate(communes.itertuples()):
        if c.commune_type == "Xã":
            continue
        hs = np.flatnonzero(code_arr == c.commune_code)
        edges = []
        for t in [c_node[i]] + [h_node[k] for k in hs]:
            pe = path_edges(pred, t, G["edge_of"])
            edges += [e for e in pe if shapely.distance(G["edges"][e], shapely.points(ctx["pts"][["x", "y"]].to_numpy()[i])) < 2500]
        if not edges:
            continue
        tech = "VDSL" if in_city[i] else "ADSL"
        rid = f"VNPT-C-{len(cop) + 1:03d}"
        cop.append({"route_id": rid, "operator": "VNPT", "technology": tech,
                    "geometry": merged(G["edges"][sorted(set(edges))])})
        for e in set(edges):
            edge_users.setdefault(int(e), []).append(("VNPT", rid))
    copper = gpd.GeoDataFrame(cop, crs=CRS)
    fiber = fiber.drop(columns="_kind")
    return fiber, copper, info


def build_access_points(fiber, ctx):
    rng, pop, transform = ctx["rng"], ctx["pop"], ctx["transform"]
    rows = []
    taken: dict[tuple[int, int], list] = {}  # one access point per ~AP_GAP_M, whatever the operator

    def free(p):
        ci, cj = int(p[0] // AP_GAP_M), int(p[1] // AP_GAP_M)
        return all(np.hypot(*(q - p)) >= AP_GAP_M for a in (-1, 0, 1) for b in (-1, 0, 1)
                   for q in taken.get((ci + a, cj + b), ()))

    for r in fiber.itertuples():
        if r.route_id.split("-")[1] == "B":
            continue
        for part in shapely.get_parts(r.geometry):
            L = part.length
            ss = np.arange(rng.uniform(50, 200), L, AP_STEP_M)
            if not len(ss):
                continue
            xy = shapely.get_coordinates(shapely.line_interpolate_point(part, ss))
            for p in xy:
                col = int((p[0] - transform.c) / RES_M)
                row = int((transform.f - p[1]) / RES_M)
                win = pop[max(row - 2, 0): row + 3, max(col - 2, 0): col + 3]
                if win.size and win.sum() > 5 and free(p):
                    taken.setdefault((int(p[0] // AP_GAP_M), int(p[1] // AP_GAP_M)), []).append(p)
                    rows.append({"ap_id": f"AP-{len(rows) + 1:05d}", "operator": r.operator,
                                 "technology": r.technology, "route_id": r.route_id,
                                 "geometry": shapely.points(p)})
    return gpd.GeoDataFrame(rows, crs=CRS)


def build_poles(fiber, copper, info, ctx):
    rng, G = ctx["rng"], ctx["G"]
    wards, duct_zone = ctx["wards"], ctx["duct_zone"]
    users = info["edge_users"]
    edges = [e for e in sorted(users) if shapely.within(G["edges"][e], wards)]
    poles, spans = [], []
    node_pole: dict[int, str] = {}

    def pole_at(xy, node=None):
        if node is not None and node in node_pole:
            return node_pole[node]
        pid = f"P-{len(poles) + 1:06d}"
        u = rng.random()
        owner = "EVN" if u < 0.7 else ("VNPT" if u < 0.9 else "Viettel")
        poles.append({"pole_id": pid, "owner": owner, "max_cables": 6,
                      "geometry": shapely.points(xy + [2.0, 2.0])})
        if node is not None:
            node_pole[node] = pid
        return pid

    for e in edges:
        geom = G["edges"][e]
        ops = sorted({op for op, _ in users[e]})
        n_cables = len({rid for _, rid in users[e]}) + int(rng.integers(0, 3))  # + TV/other cables
        if geom.within(duct_zone):
            spans.append({"span_id": f"S-{len(spans) + 1:06d}", "kind": "duct", "operators": ";".join(ops),
                          "from_pole": None, "to_pole": None, "cable_count": n_cables, "geometry": geom})
            continue
        L = geom.length
        m = max(int(round(L / 45.0)), 1)
        ss = np.linspace(0, L, m + 1)
        xy = shapely.get_coordinates(shapely.line_interpolate_point(geom, ss))
        ids = []
        for k, p in enumerate(xy):
            node = int(G["a"][e]) if k == 0 else (int(G["b"][e]) if k == m else None)
            ids.append(pole_at(p, node))
        for k in range(m):
            seg = shapely.ops.substring(geom, ss[k], ss[k + 1])
            seg = shapely.transform(seg, lambda c: c + [2.0, 2.0])
            spans.append({"span_id": f"S-{len(spans) + 1:06d}", "kind": "aerial",
                          "operators": ";".join(ops), "from_pole": ids[k], "to_pole": ids[k + 1],
                          "cable_count": n_cables, "geometry": seg})
    poles = gpd.GeoDataFrame(poles, crs=CRS)
    spans = gpd.GeoDataFrame(spans, crs=CRS)
    return poles, spans
