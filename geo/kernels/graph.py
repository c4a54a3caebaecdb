"""The road graph's loops: the shortest-path search bounded at a cordon's radius, and the parts
of road a traveller covers within it (the network cordon as drawn).

The graph is CSR arrays of :class:`geo.network.TravelGraph`: :class:`Adjacency` for the search
(successors or predecessors, parallel edges reduced to the shortest) and :class:`Records` for
the edge records (one direction of one segment) listed under the node they leave or reach.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from geo.kernels.arrays import fields_of


class Adjacency(NamedTuple):
    """Node ``u``'s neighbours ``adj_idx[adj_ptr[u]:adj_ptr[u + 1]]`` at ``adj_w`` metres."""

    adj_ptr: NDArray[np.int64]
    adj_idx: NDArray[np.int64]
    adj_w: NDArray[np.float64]


class Records(NamedTuple):
    """Edge records listed under a node: ``rec_by_node[rec_ptr[u]:rec_ptr[u + 1]]`` are the
    records at node ``u``; record ``r`` runs along segment ``rec_seg[r]``, with its geometry
    (u→v) when ``rec_forward[r]``, and its other end is node ``rec_far[r]``."""

    rec_ptr: NDArray[np.int64]
    rec_by_node: NDArray[np.int64]
    rec_seg: NDArray[np.int64]
    rec_forward: NDArray[np.bool_]
    rec_far: NDArray[np.int64]


@fields_of(Adjacency, Records)
@njit(cache=True, nogil=True)
def bounded_search(
    adj_ptr, adj_idx, adj_w, rec_ptr, rec_by_node, rec_seg, rec_forward, rec_far,  # noqa: ARG001
    node_a, node_b, dist_a, dist_b, radius, scratch, skip_seg, node_edge_m,
):  # fmt: skip
    """Dijkstra from a virtual source (edges to ``node_a``/``node_b`` of lengths
    ``dist_a``/``dist_b``, ``inf`` for none) over a CSR
    adjacency, bounded at ``radius``; then the edge records crossing the bound (``rec_forward``
    is not read).

    Returns ``(nodes, dist, crossing_rec, crossing_along, end_a, end_b, reaches_edge)``: every node
    within ``radius`` with its distance, by node index; each record listed in ``rec_by_node``
    under a reached node whose other end (``rec_far``) lies beyond ``radius``, except
    those of segment ``skip_seg``, with the metres left from the reached node to the bound;
    the distances of ``node_a`` and ``node_b`` (``inf`` beyond the radius); whether some reached
    node's remaining budget reaches the data's edge (``node_edge_m``). ``scratch`` (``inf``
    everywhere) holds tentative distances during the search and is restored before returning.
    """
    heap = [(0.0, np.int64(0))]
    heap.pop()
    touched = []
    for node, d in ((node_a, dist_a), (node_b, dist_b)):
        if d < scratch[node]:
            if scratch[node] == np.inf:
                touched.append(node)
            scratch[node] = d
            heapq.heappush(heap, (d, node))
    nodes = []
    dists = []
    while heap:
        d, u = heapq.heappop(heap)
        if d > scratch[u]:
            continue  # a stale entry
        if d > radius:
            break
        nodes.append(u)
        dists.append(d)
        for e in range(adj_ptr[u], adj_ptr[u + 1]):
            v = adj_idx[e]
            nd = d + adj_w[e]
            if nd < scratch[v]:
                if scratch[v] == np.inf:
                    touched.append(v)
                scratch[v] = nd
                heapq.heappush(heap, (nd, v))

    n = len(nodes)
    node_arr = np.empty(n, dtype=np.int64)
    dist_arr = np.empty(n)
    by_node = np.empty(n, dtype=np.int64)
    reaches_edge = False
    recs = []
    alongs = []
    for i in range(n):
        u, d = nodes[i], dists[i]
        node_arr[i] = u
        dist_arr[i] = d
        budget = radius - d
        if node_edge_m[u] <= budget:
            reaches_edge = True
        for q in range(rec_ptr[u], rec_ptr[u + 1]):
            rec = rec_by_node[q]
            if rec_seg[rec] == skip_seg:
                continue
            if scratch[rec_far[rec]] > radius:
                recs.append(rec)
                alongs.append(budget)
    end_a = scratch[node_a] if scratch[node_a] <= radius else np.inf
    end_b = scratch[node_b] if scratch[node_b] <= radius else np.inf
    for node in touched:
        scratch[node] = np.inf
    # the reached nodes by node index
    by_node[:] = np.argsort(node_arr)
    node_arr = node_arr[by_node]
    dist_arr = dist_arr[by_node]
    rec_arr = np.empty(len(recs), dtype=np.int64)
    along_arr = np.empty(len(recs))
    for i in range(len(recs)):
        rec_arr[i] = recs[i]
        along_arr[i] = alongs[i]
    return node_arr, dist_arr, rec_arr, along_arr, end_a, end_b, reaches_edge


@fields_of(Records)
@njit(cache=True, nogil=True)
def cordon_pieces(
    rec_ptr, rec_by_node, rec_seg, rec_forward, rec_far,  # noqa: ARG001
    nodes, dist, seg_length, snap_seg, snap_offset, radius, toward,
):  # fmt: skip
    """The parts of road a traveller covers within ``radius`` of P: for each reached node and
    each edge record listed under it (its edges ending there when ``toward`` P, starting there
    otherwise; P's own segment apart), the stretch of the edge next to the node that the
    remaining budget covers; then P's segment within ``radius`` of P. Returns (segment, start,
    end) offsets along each segment's geometry (``rec_far`` is not read)."""
    total = 0
    for i in range(nodes.shape[0]):
        total += rec_ptr[nodes[i] + 1] - rec_ptr[nodes[i]]
    seg = np.empty(total + 1, dtype=np.int64)
    start = np.empty(total + 1)
    end = np.empty(total + 1)
    k = 0
    for i in range(nodes.shape[0]):
        v = nodes[i]
        budget = radius - dist[i]
        for q in range(rec_ptr[v], rec_ptr[v + 1]):
            rec = rec_by_node[q]
            s = rec_seg[rec]
            if s == snap_seg:
                continue
            length = seg_length[s]
            covered = min(budget, length)
            # the covered part touches the reached end
            if rec_forward[rec] == toward:
                start[k], end[k] = length - covered, length
            else:
                start[k], end[k] = 0.0, covered
            seg[k] = s
            k += 1
    seg[k] = snap_seg
    start[k] = max(0.0, snap_offset - radius)
    end[k] = min(seg_length[snap_seg], snap_offset + radius)
    k += 1
    return seg[:k], start[:k], end[:k]
