"""The synthetic telecom network of the embedded samples: fiber and copper routes, access
points, poles and spans, built on a sample's road graph (seeded, reproducible).

Called by ``scripts/build_camau_sample.py`` with its ``ctx`` (communes, hamlets, roads,
population grid, seed). Everything here is SYNTHETIC; see ``data/README.md``.

How operators build it (the layers follow this order):

1. **Trunk** (route ids ``-B-``): Viettel and VNPT each run a cable along every national
   and provincial road (QL1, QL63, the provincial roads between the district towns), and
   close a ring from each district town (POP) to another POP on a path that avoids the
   trunk roads: Viettel prefers the dikes of the main (dredged, "Kênh xáng") canals,
   VNPT the district roads. The trunk roads are the only roads both operators always share.
2. **Feeders**: from its own trunk to the centre of every commune it serves, on its own
   least-cost path (main roads cost least; each operator's costs carry its own random
   ±25 % per road piece, so two operators' feeders part where the roads allow).
3. **Distribution**: inside each served hamlet with households, along the road pieces
   that households live on (≥ ``DIST_MIN_HH`` households and ≥ ``DIST_MIN_HH_PER_KM`` per
   km within ``DIST_ATTACH_M``), joined to the operator's network on least-cost paths
   that avoid the other operators' hamlets. In a rural commune both serve, each builds
   one contiguous sector of the commune's hamlets (Viettel ``P_RURAL_VIETTEL`` of the
   households); the other also runs along the main roads of the commune-centre hamlet.
   Wards and towns get several operators' distribution on part of their quarters
   (``URBAN_SHARE``, ``TOWN_SHARE``). MobiFone leases fibres to district-town centres.
4. **Access points** (FAT / splitter, ``ports`` 16 or 8): along each operator's own feeder
   and distribution cables, one per ``AP_PORTS`` households passed (a household within
   ``DIST_ATTACH_M`` of k operators' cables counts 1/k for each: one drop port per home
   passed, the usual FTTH dimensioning, shared between the operators present) and at
   least one per ``AP_MAX_SPACING_M`` of cable with households, so that drops stay
   short; an access point placed for reach with fewer than 8 households gets 8 ports.
   Technology: XGS-PON in the city, GPON elsewhere (the cable's).
5. **Copper**: VNPT's xDSL only, along VNPT's own routes within ``COPPER_RADIUS_M`` of the
   centre of the city wards and district towns (where the VNPT copper plant was).
6. **Poles and spans**: recorded along every aerial cable in the city wards and within
   ``POLE_TOWN_RADIUS_M`` of a district town's centre (one pole per ~``POLE_STEP_M``,
   poles at junctions shared); a span carries the operators whose cables use that road
   piece (shared only where operators share the road); ducts around the city centre.
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
CITY_DISTRICT = "Thành phố Cà Mau"
EXCLUDED_HAMLETS_FRAC = 0.065  # hamlets deliberately beyond fiber (the remotest, in REMOTE_DISTRICTS)
MAIN_CANAL_PREFIX = "Kênh xáng"  # dredged main canals: their dikes carry trunk cables
# least-cost routing: cost per metre by road class (operators lay long cables on main roads)
CLASS_COST = {"national": 1.0, "provincial": 1.0, "district": 1.3, "commune": 1.6, "hamlet": 2.4,
              "canal": 1.8}
RING_COST = {"Viettel": {"canal": 1.1, "district": 1.4}, "VNPT": {"canal": 3.0, "district": 1.0}}
TRUNK_AVOID = 25.0  # ring closures pay this factor on the trunk roads (so they take another way)
OPERATOR_JITTER = 0.25  # each operator's own ± cost per road piece
OTHERS_COST = 10.0  # an operator's cables avoid the hamlets another operator distributes in
DIST_ATTACH_M = 300.0  # households this close to a road piece live along it
DIST_MIN_HH = 4.0  # a road piece with fewer households gets no distribution cable ...
DIST_MIN_HH_PER_KM = 10.0  # ... nor one with fewer households per km
AP_PORTS = 16  # drop ports of an access point (FAT)
AP_SAMPLE_M = 25.0  # candidate access-point positions along a cable
AP_MAX_SPACING_M = 400.0  # FATs at most this far apart along a cable with households (drops ≤ ~300 m)
AP_MIN_HH = 2.0  # a cable part passing fewer households gets no access point
COPPER_RADIUS_M = 2500.0
POLE_STEP_M = 45.0
POLE_TOWN_RADIUS_M = 800.0  # poles recorded in the city wards and this close to a district town's centre
# commune served by the operator (rural communes) and hamlet shares of distribution
P_SERVES = {"Viettel": 0.93, "VNPT": 0.72}
P_RURAL_VIETTEL = 0.58  # a rural hamlet of a commune both serve: Viettel's, else VNPT's
URBAN_SHARE = {"Viettel": 0.9, "VNPT": 0.6, "FPT": 0.4}  # quarters of a city ward each distributes in
TOWN_SHARE = {"Viettel": 0.85, "VNPT": 0.55}  # quarters of a district town / city commune


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", str(s))


def hamlet_anchor(geom) -> shapely.Point:
    """The hamlet's centre used by the road builder: centroid, or a point on the surface."""
    c = geom.centroid
    return c if geom.contains(c) else geom.representative_point()


# --------------------------------------------------------------------------------------
# a road graph for fiber/copper/poles: roads, bridges and the main canals' dikes
# --------------------------------------------------------------------------------------
def road_graph(roads: gpd.GeoDataFrame):
    main_canal = (roads.kind == "canal") & roads.name.str.startswith(nfc(MAIN_CANAL_PREFIX))
    sel = roads[roads.kind.isin(["road", "bridge"]) | main_canal]
    noded = shapely.get_parts(shapely.union_all(sel.geometry.to_numpy()))
    noded = noded[shapely.length(noded) > 0.01]
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(noded, 0)),
                      shapely.get_coordinates(shapely.get_point(noded, -1))])
    uniq, inv = np.unique(ends, axis=0, return_inverse=True)
    m = len(noded)
    a, b = inv[:m], inv[m:]
    L = shapely.length(noded)
    # class of each noded piece (from the line it lies on)
    tree = shapely.STRtree(sel.geometry.to_numpy())
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    near = tree.query_nearest(mid, all_matches=False)[1]
    cls = np.where(sel.kind.to_numpy()[near] == "canal", "canal", sel.road_class.to_numpy()[near])
    name = sel.name.to_numpy()[near]
    return {"nodes": uniq, "edges": noded, "a": a, "b": b, "len": L, "cls": cls, "name": name,
            "tree": cKDTree(uniq)}


def weighted_csr(G, w: np.ndarray):
    """Undirected graph with edge weights w; of parallel pieces the cheaper one is kept,
    and ``edge_of[(u, v)]`` names it."""
    a, b = G["a"], G["b"]
    ok = a != b
    k = np.flatnonzero(ok)
    df = pd.DataFrame({"u": np.minimum(a, b)[k], "v": np.maximum(a, b)[k], "w": w[k], "e": k})
    df = df.sort_values("w", kind="stable").drop_duplicates(["u", "v"])
    n = len(G["nodes"])
    M = sparse.coo_matrix((df.w.to_numpy(), (df.u.to_numpy(), df.v.to_numpy())), shape=(n, n)).tocsr()
    edge_of = {}
    for u, v, e in zip(df.u.to_numpy(), df.v.to_numpy(), df.e.to_numpy(), strict=True):
        edge_of[(int(u), int(v))] = int(e)
        edge_of[(int(v), int(u))] = int(e)
    return M + M.T, edge_of


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
    return shapely.line_merge(shapely.union_all(list(geoms)))


def _nodes_of(G, edges) -> np.ndarray:
    e = np.asarray(sorted(edges), int)
    return np.unique(np.r_[G["a"][e], G["b"][e]]) if len(e) else np.zeros(0, int)


def _household_cells(ctx) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres with people and their households (persons / the province's persons per
    household)."""
    pop, xs, ys = ctx["pop"], ctx["xs"], ctx["ys"]
    r, c = np.nonzero(pop > 0)
    ratio = ctx["hamlets"].households.sum() / pop.sum()
    return np.column_stack([xs[c], ys[r]]), pop[r, c] * ratio


def _edge_households(G, xy: np.ndarray, hh: np.ndarray) -> np.ndarray:
    """Households living along each road piece: every populated cell to its nearest piece
    within DIST_ATTACH_M."""
    tree = shapely.STRtree(G["edges"])
    (pi, ei), _ = tree.query_nearest(shapely.points(xy), max_distance=DIST_ATTACH_M, return_distance=True,
                                     all_matches=False)
    return np.bincount(ei, weights=hh[pi], minlength=len(G["edges"]))


# --------------------------------------------------------------------------------------
# fiber and copper
# --------------------------------------------------------------------------------------
def _setup(ctx):
    """Graph, hamlet/commune nodes, excluded hamlets, urban masks (stored in ctx)."""
    roads, communes, hamlets = ctx["roads"], ctx["communes"], ctx["hamlets"]
    G = road_graph(roads)
    ctx["G"] = G
    city_d = nfc(ctx.get("city_district", CITY_DISTRICT))
    ctx["duct_zone"] = shapely.Point(ctx["city"]).buffer(1300)
    urban = communes.commune_type.to_numpy() != "Xã"
    in_city = communes.district_name.to_numpy() == city_d
    ctx["wards"] = shapely.union_all(communes[urban & in_city].geometry.to_numpy())
    ctx["urban"] = shapely.union_all(communes[urban].geometry.to_numpy())
    anchors = np.array([[a.x, a.y] for a in map(hamlet_anchor, hamlets.geometry)])
    c_node = G["tree"].query(ctx["pts"][["x", "y"]].to_numpy())[1]
    mid = shapely.line_interpolate_point(G["edges"], 0.5, normalized=True)
    mid_h = np.full(len(G["edges"]), -1)
    pi, hi = shapely.STRtree(hamlets.geometry.to_numpy()).query(mid, predicate="within")
    mid_h[pi] = hi
    xy, hh = _household_cells(ctx)
    e_hh = _edge_households(G, xy, hh)
    # hamlets deliberately beyond fiber: the remotest (from the trunk roads) in the remote districts
    bb = np.isin(G["cls"], ["national", "provincial"])
    M, _ = weighted_csr(G, G["len"])
    dist = csgraph.dijkstra(M, directed=False, indices=_nodes_of(G, np.flatnonzero(bb)), min_only=True)
    hd = dist[G["tree"].query(anchors)[1]]
    dname = communes.set_index("commune_code").district_name
    remote = np.isin(hamlets.commune_code.map(dname).to_numpy(),
                     [nfc(d) for d in ctx.get("remote_districts", REMOTE_DISTRICTS)])
    cand = np.flatnonzero(remote)
    n_excl = round(EXCLUDED_HAMLETS_FRAC * len(hamlets))
    excl = set(cand[np.argsort(-hd[cand], kind="stable")[:n_excl]].tolist())
    pops = [ctx["city"], *ctx["towns"].values()]
    return {"G": G, "c_node": c_node, "mid_h": mid_h, "e_hh": e_hh, "excl": excl, "in_city": in_city,
            "urban": urban, "bb": bb, "anchors": anchors,
            "pop_nodes": np.unique(G["tree"].query(np.asarray(pops))[1])}


def _op_weights(G, op: str, rng, ring: bool = False) -> np.ndarray:
    cost = dict(CLASS_COST)
    if ring:
        cost |= RING_COST.get(op, {})
    f = np.array([cost.get(c, CLASS_COST["hamlet"]) for c in G["cls"]])
    jitter = np.exp(rng.normal(0.0, OPERATOR_JITTER, len(f)))
    return G["len"] * f * jitter


def _trunk(S, op: str, rng) -> set[int]:
    """The trunk roads and a ring closure from every POP to another POP off the trunk roads."""
    G = S["G"]
    edges = set(np.flatnonzero(S["bb"]).tolist())
    w = _op_weights(G, op, rng, ring=True)
    w[S["bb"]] *= TRUNK_AVOID
    M, edge_of = weighted_csr(G, w)
    pops = S["pop_nodes"]
    dist, pred = csgraph.dijkstra(M, directed=False, indices=pops, return_predecessors=True)
    for k, p in enumerate(pops):
        others = [q for q in pops if q != p]
        if not others:
            continue
        q = others[int(np.argmin(dist[k, others]))]
        if np.isfinite(dist[k, q]):
            edges.update(path_edges(pred[k], int(q), edge_of))
    return edges


MAIN_ONLY = ":main"  # suffix: the operator distributes in that hamlet on its main roads only
MAIN_CLASSES = ("national", "provincial", "district", "commune")


def _split_sector(anchors: np.ndarray, centre: np.ndarray, hh: np.ndarray, share: float, rng) -> np.ndarray:
    """True for the hamlets of one contiguous sector around the commune centre holding
    about ``share`` of the households (the first operator's territory)."""
    ang = np.arctan2(*(anchors - centre).T[::-1])
    ang = (ang - rng.uniform(-np.pi, np.pi)) % (2 * np.pi)
    order = np.argsort(ang, kind="stable")
    cum = np.cumsum(hh[order]) - 0.5 * hh[order]
    out = np.zeros(len(hh), bool)
    out[order] = cum < share * hh.sum()
    return out


def _serving(ctx, S, rng) -> tuple[dict, dict]:
    """Which operators serve each commune (feeder to its centre) and distribute in each
    hamlet: in a rural commune that both Viettel and VNPT serve, each builds one contiguous
    part of the commune (and both the centre's hamlet); wards and towns get several."""
    communes, hamlets = ctx["communes"], ctx["hamlets"]
    code = hamlets.commune_code.to_numpy()
    hh = hamlets.households.to_numpy().astype(float)
    P = ctx["pts"][["x", "y"]].to_numpy()
    anchors_tree = cKDTree(S["anchors"])
    serves: dict[str, list[int]] = {"Viettel": [], "VNPT": [], "FPT": []}
    dist: dict[int, list[str]] = {}
    for i, c in enumerate(communes.itertuples()):
        town = bool(S["urban"][i])
        ward = town and S["in_city"][i]
        ops = [op for op in ("Viettel", "VNPT")
               if rng.random() < P_SERVES[op] or town or S["in_city"][i]] or ["VNPT"]
        if ward:
            ops.append("FPT")
        for op in ops:
            serves[op].append(i)
        hs = np.array([k for k in np.flatnonzero(code == c.commune_code) if k not in S["excl"] and hh[k] > 0])
        if not len(hs):
            continue
        if town:
            shares = URBAN_SHARE if ward else TOWN_SHARE
            for k in hs:
                dist[k] = [op for op in ops if rng.random() < shares.get(op, 0.0)] or [ops[0]]
            continue
        first = (_split_sector(S["anchors"][hs], P[i], hh[hs], P_RURAL_VIETTEL, rng) if len(ops) == 2
                 else np.ones(len(hs), bool))
        centre = int(anchors_tree.query(P[i])[1])
        for k, f in zip(hs, first, strict=True):
            dist[k] = [ops[0] if f else ops[-1]]
            if k == centre and len(ops) == 2:  # the other operator too, on the centre's main roads
                dist[k].append(f"{ops[-1] if f else ops[0]}{MAIN_ONLY}")
    return serves, dist


def _feeders_and_distribution(S, op: str, trunk: set[int], communes_i: list[int],
                              hamlets_k: tuple[list[int], list[int]], rng, others: np.ndarray
                              ) -> tuple[set[int], set[int]]:
    """Feeders from the trunk to the commune centres; distribution on the road pieces of
    its hamlets (``hamlets_k``: all pieces, main roads only) that households live along,
    joined on least-cost paths that avoid the other operators' hamlets (``others``)."""
    G = S["G"]
    w = _op_weights(G, op, rng)
    w[np.isin(S["mid_h"], others)] *= OTHERS_COST
    M, edge_of = weighted_csr(G, w)
    src = _nodes_of(G, trunk) if trunk else S["c_node"][communes_i[:1]]
    _, pred, _ = csgraph.dijkstra(M, directed=False, indices=src, return_predecessors=True, min_only=True)
    feeder = set(tree_edges(pred, S["c_node"][communes_i], edge_of)) - trunk
    # distribution: the road pieces of its hamlets that households live along
    e_h = S["mid_h"]
    dens = S["e_hh"] / np.maximum(G["len"], 1.0) * 1000.0
    lived = (S["e_hh"] >= DIST_MIN_HH) & (dens >= DIST_MIN_HH_PER_KM)
    main = np.isin(G["cls"], MAIN_CLASSES)
    keep = np.flatnonzero(lived & (np.isin(e_h, hamlets_k[0]) | (np.isin(e_h, hamlets_k[1]) & main)))
    own = trunk | feeder
    src = _nodes_of(G, own)
    _, pred, _ = csgraph.dijkstra(M, directed=False, indices=src, return_predecessors=True, min_only=True)
    targets = np.unique(np.r_[G["a"][keep], G["b"][keep]])
    distribution = (set(keep.tolist()) | set(tree_edges(pred, targets, edge_of))) - own
    return feeder, distribution


def build_fiber(ctx):
    rng = np.random.default_rng([int(ctx.get("seed", 2021)), 12])
    ctx["net_rng"] = rng
    S = _setup(ctx)
    ctx["net"] = S
    G, communes = S["G"], ctx["communes"]
    serves, dist = _serving(ctx, S, rng)
    routes: list[dict] = []
    edge_users: dict[int, list[tuple[str, str]]] = {}
    op_edges: dict[str, dict[str, set[int]]] = {}

    def add_route(op, edges, tech, owner, kind, commune=None):
        if not edges:
            return
        e = np.array(sorted(edges))
        inzone = shapely.within(G["edges"][e], ctx["duct_zone"])
        if shapely.length(G["edges"][e][inzone]).sum() < 150:  # too little for a duct route
            inzone[:] = False
        for placement, sel in (("duct", inzone), ("aerial", ~inzone)):
            if not sel.any():
                continue
            tag = "B" if kind == "trunk" else "F"
            rid = f"{op[:3].upper()}-{tag}-{len(routes) + 1:04d}"
            routes.append({"route_id": rid, "operator": op, "technology": tech, "placement": placement,
                           "owner": owner, "geometry": merged(G["edges"][e[sel]])})
            for k in e[sel]:
                edge_users.setdefault(int(k), []).append((op, rid))

    tech_of = np.where(S["in_city"], "XGS-PON", "GPON")
    for op in ("Viettel", "VNPT", "FPT"):
        trunk = _trunk(S, op, rng) if op in RING_COST else set()
        hk = ([k for k, ops in dist.items() if op in ops], [k for k, ops in dist.items() if op + MAIN_ONLY in ops])
        others = [k for k, ops in dist.items() if op not in ops]
        feeder, distribution = _feeders_and_distribution(S, op, trunk, serves[op], hk, rng, np.array(others, int))
        op_edges[op] = {"trunk": trunk, "feeder": feeder, "distribution": distribution}
        add_route(op, trunk, "GPON", op, "trunk")
        # feeders and distribution: one route per commune (the commune their midpoint lies in)
        fd = np.array(sorted(feeder | distribution))
        if not len(fd):
            continue
        mid = shapely.line_interpolate_point(G["edges"][fd], 0.5, normalized=True)
        ci = shapely.STRtree(communes.geometry.to_numpy()).query_nearest(mid, all_matches=False)[1]
        for i in np.unique(ci):
            add_route(op, set(fd[ci == i].tolist()), str(tech_of[i]), op, "access")
    # MobiFone leases fiber from VNPT or Viettel to the district towns' centres
    for i in np.flatnonzero(S["urban"] & ~S["in_city"]):
        if rng.random() < 0.7:
            lessor = str(rng.choice(["VNPT", "Viettel"]))
            own = op_edges[lessor]
            e = [k for k in own["feeder"] | own["distribution"]
                 if shapely.distance(G["edges"][k], shapely.points(ctx["pts"][["x", "y"]].to_numpy()[i])) < 800]
            add_route("MobiFone", set(e), "GPON", lessor, "leased")
    fiber = gpd.GeoDataFrame(routes, crs=CRS)
    fl = shapely.STRtree(fiber.geometry.to_numpy())
    dd = fl.query_nearest(shapely.points(S["anchors"]), return_distance=True, all_matches=False)[1]
    report = {"hamlets_beyond_fiber_1km": int((dd > 1000).sum()), "hamlets_excluded": len(S["excl"])}
    copper = _copper(ctx, S, op_edges["VNPT"], edge_users)
    report |= _totals(G, op_edges, fiber)
    S["report"] = report  # the access points add their counts
    return fiber, copper, {"edge_users": edge_users, "report": report, "op_edges": op_edges}


def _copper(ctx, S, vnpt: dict, edge_users: dict) -> gpd.GeoDataFrame:
    """VNPT's xDSL along its own routes near the centres of the wards and district towns."""
    G, communes = S["G"], ctx["communes"]
    own = np.array(sorted(vnpt["trunk"] | vnpt["feeder"] | vnpt["distribution"]))
    P = ctx["pts"][["x", "y"]].to_numpy()
    cop = []
    for i, _c in enumerate(communes.itertuples()):
        if not S["urban"][i]:
            continue
        poly = communes.geometry.iloc[i]
        g = G["edges"][own]
        near = (shapely.distance(g, shapely.points(P[i])) < COPPER_RADIUS_M) & shapely.intersects(g, poly)
        e = own[near]
        if not len(e):
            continue
        rid = f"VNPT-C-{len(cop) + 1:03d}"
        cop.append({"route_id": rid, "operator": "VNPT", "technology": "VDSL" if S["in_city"][i] else "ADSL",
                    "geometry": merged(G["edges"][e])})
        for k in e:
            edge_users.setdefault(int(k), []).append(("VNPT", rid))
    return gpd.GeoDataFrame(cop, crs=CRS)


def _totals(G, op_edges: dict, fiber) -> dict:
    """Route km per operator (distinct road pieces), km shared by ≥ 2 operators."""
    out = {}
    count = np.zeros(len(G["edges"]), int)
    for op, parts in op_edges.items():
        e = np.array(sorted(set().union(*parts.values())), int)
        count[e] += 1
        out[f"route_km_{op}"] = round(float(G["len"][e].sum()) / 1000, 1)
        for kind, es in parts.items():
            out[f"route_km_{op}_{kind}"] = round(float(G["len"][sorted(es)].sum()) / 1000, 1) if es else 0.0
    out["route_km_distinct"] = round(float(G["len"][count > 0].sum()) / 1000, 1)
    out["route_km_shared_2plus"] = round(float(G["len"][count > 1].sum()) / 1000, 1)
    out["route_km_layer"] = round(float(fiber.length.sum()) / 1000, 1)
    return out


# --------------------------------------------------------------------------------------
# access points
# --------------------------------------------------------------------------------------
def build_access_points(fiber, ctx):
    """FATs along each operator's feeder and distribution cables: one per AP_PORTS
    households passed (shared 1/k between the k operators passing a household)."""
    S = ctx["net"]
    xy, hh = _household_cells(ctx)
    access = fiber[fiber.route_id.str.contains("-F-") & (fiber.owner == fiber.operator)]
    cand = {}
    for op, grp in access.groupby("operator", sort=True):
        parts = shapely.get_parts(grp.geometry.to_numpy())
        rid = np.repeat(grp.route_id.to_numpy(), shapely.get_num_geometries(grp.geometry.to_numpy()))
        tech = np.repeat(grp.technology.to_numpy(), shapely.get_num_geometries(grp.geometry.to_numpy()))
        L = shapely.length(parts)
        n = np.maximum(np.ceil(L / AP_SAMPLE_M).astype(int), 1)
        part = np.repeat(np.arange(len(parts)), n)
        off = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        s = (off + 0.5) * (L[part] / n[part])
        pts = shapely.get_coordinates(shapely.line_interpolate_point(parts[part], s))
        cand[op] = {"xy": pts, "part": part, "rid": rid[part], "tech": tech[part]}
    # households passed by each operator: cells within DIST_ATTACH_M of its cable
    near = {op: cKDTree(c["xy"]).query(xy, distance_upper_bound=DIST_ATTACH_M) for op, c in cand.items()}
    k = np.sum([np.isfinite(d) for d, _ in near.values()], axis=0)
    rows = []
    for op, c in cand.items():
        d, j = near[op]
        ok = np.isfinite(d)
        w = np.bincount(j[ok], weights=hh[ok] / k[ok], minlength=len(c["xy"]))
        # walk along each cable part: an access point per AP_PORTS households passed, and
        # at least one per AP_MAX_SPACING_M of cable with households (drops stay short)
        seg = np.full(len(w), AP_SAMPLE_M)
        need = w / AP_PORTS + np.where(w > 0.05, seg / AP_MAX_SPACING_M, 0.0)
        cs = np.cumsum(need)
        start = np.r_[0, np.flatnonzero(np.diff(c["part"])) + 1]
        cnt = np.bincount(c["part"])
        local = cs - np.repeat(cs[start] - need[start], cnt[cnt > 0])
        tot = np.bincount(c["part"], weights=need)
        hh_part = np.bincount(c["part"], weights=w)
        n_ap = np.where(hh_part >= AP_MIN_HH, np.maximum(np.round(tot), 1), 0).astype(int)
        for p in np.flatnonzero(n_ap):
            sl = slice(start[p], start[p] + cnt[p])
            q = (np.arange(n_ap[p]) + 0.5) * tot[p] / n_ap[p]
            idx = np.unique(sl.start + np.minimum(np.searchsorted(local[sl], q), cnt[p] - 1))
            ports = AP_PORTS if hh_part[p] / len(idx) >= AP_PORTS / 2 else AP_PORTS // 2
            for t in idx:
                rows.append({"operator": op, "technology": c["tech"][t], "route_id": c["rid"][t],
                             "ports": ports, "geometry": shapely.points(c["xy"][t])})
    aps = gpd.GeoDataFrame(rows, crs=CRS)
    aps.insert(0, "ap_id", [f"AP-{i + 1:05d}" for i in range(len(aps))])
    S["report"].update({"access_points": len(aps), "ports": int(aps.ports.sum()),
                        "households_passed": round(float(hh[k > 0].sum()))})
    return aps


# --------------------------------------------------------------------------------------
# poles and spans
# --------------------------------------------------------------------------------------
def build_poles(fiber, copper, info, ctx):
    """Poles every ~POLE_STEP_M along the aerial cables in the wards and district towns
    (shared at junctions); a span lists the operators whose cables use that road piece."""
    rng, S = ctx["net_rng"], ctx["net"]
    G, duct_zone = S["G"], ctx["duct_zone"]
    users = info["edge_users"]
    towns = ctx["communes"].commune_type.to_numpy() == nfc("Thị trấn")
    centres = shapely.buffer(shapely.points(ctx["pts"][["x", "y"]].to_numpy()[towns]), POLE_TOWN_RADIUS_M)
    area = shapely.union_all([ctx["wards"], *centres])
    edges = [e for e in sorted(users) if shapely.within(G["edges"][e], area)]
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
        m = max(int(round(L / POLE_STEP_M)), 1)
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
