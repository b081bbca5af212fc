"""Noding: split lines where they cross or where one line's end lies on another's interior."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely


def _noding_pairs(geoms: np.ndarray, *, max_pairs: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of lines (i < j) that meet somewhere other than end to end.

    A numpy pre-filter in place of a GEOS relate per touching pair: straight segments are
    bucketed on a grid; every pair of segments of different lines sharing a bucket is
    tested with orientation signs. A pair is kept when two segments cross properly, or a
    segment end lies on the other segment (within 1e-7 m) at a point that is not an end
    of both lines. The kept pairs are then noded exactly by GEOS (:func:`_node_lines`).
    """
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    n = len(geoms)
    start_xy, end_xy, weird = _line_ends(coords, idx, n)
    k = np.flatnonzero(idx[:-1] == idx[1:])
    sa, sb, sline = coords[k], coords[k + 1], idx[k]
    if len(k) < 2:
        return np.array([], np.int64), np.array([], np.int64)
    grid = _bucket_grid(sa, sb)
    key = grid.key
    # partners of entry t: the later entries of its bucket
    bucket_end = np.searchsorted(key, key, side="right")
    npart = bucket_end - np.arange(len(key)) - 1
    csum = np.cumsum(npart)
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    start = 0
    tot = len(key)
    while start < tot:
        base = csum[start - 1] if start else 0
        stop = min(max(int(np.searchsorted(csum, base + max_pairs, side="right")), start + 1), tot)
        si, sj = _bucket_partners(grid, npart, start, stop)
        keep = sline[si] != sline[sj]
        si, sj = si[keep], sj[keep]
        flag = _segments_meet_inside(sa, sb, sline, start_xy, end_xy, weird, si, sj)
        out_i.append(si[flag])
        out_j.append(sj[flag])
        start = stop
    si = np.concatenate(out_i)
    sj = np.concatenate(out_j)
    li, lj = sline[si], sline[sj]
    a, b = np.minimum(li, lj), np.maximum(li, lj)
    pair = np.unique(a.astype(np.int64) * n + b)  # a pair may meet in several segment pairs
    return pair // n, pair % n


def _line_ends(coords: np.ndarray, idx: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and last vertex of each line, and which lines get no "end" exemption: closed
    lines, and lines with an interior vertex on their own end point (self-touching), for
    which GEOS decides."""
    counts = np.bincount(idx, minlength=n)
    first = np.cumsum(counts) - counts
    last = first + counts - 1
    start_xy, end_xy = coords[first], coords[last]
    inner = np.ones(len(coords), bool)
    inner[first] = False
    inner[last] = False
    weird_v = inner & (np.all(coords == start_xy[idx], axis=1) | np.all(coords == end_xy[idx], axis=1))
    weird = np.zeros(n, bool)
    weird[idx[weird_v]] = True
    weird |= np.all(start_xy == end_xy, axis=1)
    return start_xy, end_xy, weird


@dataclass(frozen=True)
class _Grid:
    """Registration pieces of the segments in grid buckets, sorted by bucket ``key``:
    entry ``t`` is piece ``ent[t]`` of segment ``seg[ent[t]]`` with box ``plo``..``phi``."""

    key: np.ndarray
    ent: np.ndarray
    seg: np.ndarray
    plo: np.ndarray
    phi: np.ndarray
    g0: np.ndarray
    C: float
    ny: int


def _bucket_grid(sa: np.ndarray, sb: np.ndarray) -> _Grid:
    """Cut segments into pieces no longer than the bucket size ``C`` per axis (each then
    touches at most 2 x 2 buckets) and register every piece in the buckets it touches."""
    m = len(sa)
    lo = np.minimum(sa, sb)
    hi = np.maximum(sa, sb)
    ext = hi - lo
    C = max(float(np.median(np.maximum(ext[:, 0], ext[:, 1]))) * 2.0, 1e-6)
    nsub = np.maximum(np.ceil(np.maximum(ext[:, 0], ext[:, 1]) / C).astype(np.int64), 1)
    seg = np.repeat(np.arange(m), nsub)
    kk = np.arange(len(seg)) - np.repeat(np.cumsum(nsub) - nsub, nsub)
    f0 = (kk / nsub[seg])[:, None]
    f1 = ((kk + 1) / nsub[seg])[:, None]
    d = (sb - sa)[seg]
    p0 = sa[seg] + d * f0
    p1 = sa[seg] + d * f1
    plo, phi = np.minimum(p0, p1), np.maximum(p0, p1)
    del kk, f0, f1, d, p0, p1
    g0 = plo.min(axis=0) - C
    bx0 = np.floor((plo - g0) / C).astype(np.int64)
    bx1 = np.floor((phi - g0) / C).astype(np.int64)
    ny = int(bx1[:, 1].max()) + 2
    keys, ents = [], []
    for ox in (0, 1):
        for oy in (0, 1):
            sel = np.flatnonzero((bx1[:, 0] - bx0[:, 0] >= ox) & (bx1[:, 1] - bx0[:, 1] >= oy))
            keys.append((bx0[sel, 0] + ox) * ny + (bx0[sel, 1] + oy))
            ents.append(sel)
    key = np.concatenate(keys)
    ent = np.concatenate(ents)
    order = np.argsort(key, kind="stable")
    return _Grid(key[order], ent[order], seg, plo, phi, g0, C, ny)


def _bucket_partners(grid: _Grid, npart: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Segment pairs of entries ``start:stop`` with the later entries of their bucket whose
    boxes overlap, each pair counted once: in the bucket holding the corner of the overlap."""
    key, ent, plo, phi, g0, C = grid.key, grid.ent, grid.plo, grid.phi, grid.g0, grid.C
    c = npart[start:stop]
    t = np.repeat(np.arange(start, stop), c)
    q = t + 1 + (np.arange(len(t)) - np.repeat(np.cumsum(c) - c, c))
    pe, qe = ent[t], ent[q]
    cx = np.maximum(plo[pe, 0], plo[qe, 0])
    cy = np.maximum(plo[pe, 1], plo[qe, 1])
    ovl = (cx <= np.minimum(phi[pe, 0], phi[qe, 0])) & (cy <= np.minimum(phi[pe, 1], phi[qe, 1]))
    home = np.floor((cx - g0[0]) / C).astype(np.int64) * grid.ny + np.floor((cy - g0[1]) / C).astype(np.int64)
    keep = ovl & (home == key[t])
    return grid.seg[pe[keep]], grid.seg[qe[keep]]


def _segments_meet_inside(sa, sb, sline, start_xy, end_xy, weird, si, sj) -> np.ndarray:  # noqa: ANN001
    """For segment pairs (si, sj): do they meet at a point inside one of their lines?"""
    p1, p2, q1, q2 = sa[si], sb[si], sa[sj], sb[sj]
    r = p2 - p1
    s_ = q2 - q1
    lr = np.hypot(r[:, 0], r[:, 1])
    ls = np.hypot(s_[:, 0], s_[:, 1])

    def cross(u, w):  # noqa: ANN001, ANN202
        return u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]

    tol = 1e-7
    d1 = cross(r, q1 - p1)
    d2 = cross(r, q2 - p1)
    d3 = cross(s_, p1 - q1)
    d4 = cross(s_, p2 - q1)
    z1, z2 = np.abs(d1) <= tol * lr, np.abs(d2) <= tol * lr
    z3, z4 = np.abs(d3) <= tol * ls, np.abs(d4) <= tol * ls
    proper = ~(z1 | z2 | z3 | z4) & (np.sign(d1) != np.sign(d2)) & (np.sign(d3) != np.sign(d4))
    li, lj = sline[si], sline[sj]

    def on_box(pt, a, b):  # noqa: ANN001, ANN202
        lo_, hi_ = np.minimum(a, b) - tol, np.maximum(a, b) + tol
        return np.all((pt >= lo_) & (pt <= hi_), axis=1)

    def end_of(pt, line):  # noqa: ANN001, ANN202 (a closed line has no ends: GEOS's rule)
        return ~weird[line] & (np.all(pt == start_xy[line], axis=1) | np.all(pt == end_xy[line], axis=1))

    flag = proper.copy()
    for z, pt, a, b in ((z1, q1, p1, p2), (z2, q2, p1, p2), (z3, p1, q1, q2), (z4, p2, q1, q2)):
        touch = np.flatnonzero(z & on_box(pt, a, b))
        if len(touch):
            p_, a_, b_ = pt[touch], li[touch], lj[touch]
            flag[touch] |= ~(end_of(p_, a_) & end_of(p_, b_))
    return flag


def _node_lines(
    geoms: np.ndarray, tol: float, *, pairs: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Split lines where they cross or touch another line's interior.

    Returns the pieces, the index of the line each piece came from, and the number of
    split points inserted. ``pairs``: candidate line pairs (default :func:`_noding_pairs`).
    """
    n = len(geoms)
    if n < 2:
        return geoms, np.arange(n), 0
    i, j = _noding_pairs(geoms) if pairs is None else pairs
    if len(i) == 0:
        return geoms, np.arange(n), 0
    line, pxy, pos = _split_points(geoms, i, j, tol)
    if len(line) == 0:
        return geoms, np.arange(n), 0
    to_split = np.unique(line)
    all_line, all_xy, kind = _vertices_and_splits(geoms, to_split, line, pxy, pos, tol)
    # piece number within each line = number of "start" split rows (kind 2) up to and
    # including this row; the "end" row (kind 1) belongs to the piece before
    starts = (kind == 2).astype(np.int64)
    piece_in_line = np.cumsum(starts)
    first = np.r_[True, all_line[1:] != all_line[:-1]]
    base = np.maximum.accumulate(np.where(first, piece_in_line - starts, 0))
    piece_in_line = piece_in_line - base
    piece_key = all_line.astype(np.int64) * (len(line) + 2) + piece_in_line
    uniq, piece_id = np.unique(piece_key, return_inverse=True)
    new_pieces = shapely.linestrings(all_xy, indices=piece_id)
    piece_line = (uniq // (len(line) + 2)).astype(np.int64)
    untouched = np.setdiff1d(np.arange(n), to_split)
    out = np.concatenate([geoms[untouched], new_pieces])
    src = np.concatenate([untouched, piece_line])
    return out, src, int(len(line))


def _split_points(geoms: np.ndarray, i: np.ndarray, j: np.ndarray,
                  tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the line pairs (i, j) meet, as split points inside a line: (line, xy, position
    along the line), sorted by line and position, unique to ``tol`` per line."""
    inter = shapely.intersection(geoms[i], geoms[j])
    pts = shapely.extract_unique_points(inter)
    parts, pidx = shapely.get_parts(pts, return_index=True)
    xy = shapely.get_coordinates(parts)
    # each intersection point splits both lines of its pair
    line = np.concatenate([i[pidx], j[pidx]])
    pxy = np.concatenate([xy, xy])
    pos = shapely.line_locate_point(geoms[line], shapely.points(pxy))
    length = shapely.length(geoms[line])
    interior = (pos > tol) & (pos < length - tol)
    line, pxy, pos = line[interior], pxy[interior], pos[interior]
    # unique split positions per line (1e-9 m)
    order = np.lexsort((pos, line))
    line, pxy, pos = line[order], pxy[order], pos[order]
    dup = np.zeros(len(line), bool)  # no split point at all: nothing to de-duplicate
    dup[1:] = (line[1:] == line[:-1]) & (np.abs(pos[1:] - pos[:-1]) <= tol)
    return line[~dup], pxy[~dup], pos[~dup]


def _vertices_and_splits(geoms: np.ndarray, to_split: np.ndarray, line: np.ndarray, pxy: np.ndarray,
                         pos: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vertices of the lines to split merged with their split points, in order along
    each line: (line, xy, kind) with kind 0 = vertex, 1 = split point ending a piece, 2 =
    split point starting the next. A vertex within ``tol`` of a split point is dropped
    (the split point replaces it)."""
    vcoords, vidx = shapely.get_coordinates(geoms[to_split], return_index=True)
    vline = to_split[vidx]
    step = np.r_[0.0, np.hypot(np.diff(vcoords[:, 0]), np.diff(vcoords[:, 1]))]
    step[np.r_[True, vline[1:] != vline[:-1]]] = 0.0
    vpos = np.cumsum(step)
    first = np.r_[True, vline[1:] != vline[:-1]]
    vpos = vpos - np.maximum.accumulate(np.where(first, vpos, -np.inf))
    all_line = np.concatenate([vline, line, line])
    all_pos = np.concatenate([vpos, pos, pos])
    all_xy = np.concatenate([vcoords, pxy, pxy])
    kind = np.concatenate([np.zeros(len(vline), np.int8), np.ones(len(line), np.int8), np.full(len(line), 2, np.int8)])
    order = np.lexsort((kind, all_pos, all_line))
    all_line, all_pos, all_xy, kind = all_line[order], all_pos[order], all_xy[order], kind[order]
    is_split = kind > 0
    key_line = all_line[~is_split]
    key_pos = all_pos[~is_split]
    near = np.zeros(len(key_line), bool)
    if len(key_line):
        # nearest split point on the same line (merge_asof by line; split points sorted by (line, pos))
        left = pd.DataFrame({"line": key_line, "pos": key_pos, "row": np.arange(len(key_line))}).sort_values("pos")
        right = pd.DataFrame({"line": line, "pos": pos, "sp": pos}).sort_values("pos")
        m = pd.merge_asof(left, right, on="pos", by="line", direction="nearest")
        close = np.abs(m["sp"].to_numpy() - m["pos"].to_numpy()) <= max(tol, 1e-9)
        near[m["row"].to_numpy()[close]] = True
    drop = np.zeros(len(all_line), bool)
    drop[np.flatnonzero(~is_split)[near]] = True
    return all_line[~drop], all_xy[~drop], kind[~drop]
