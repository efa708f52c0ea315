"""Connected components of a graph of record pairs, in memory with scipy: people from their links.

Splink clusters in SQL, joining the edges to the nodes again and again until no label changes (a dozen
rounds of joins on text keys at a million records). A graph of a million nodes and a few million edges
fits in memory as integer arrays, and ``scipy.sparse.csgraph.connected_components`` labels it in one
pass. A cluster is named by its smallest record id, as Splink names it, so runs repeat exactly and
the ids are the same whichever way they were computed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def connected_components(nodes: pa.Array | pa.ChunkedArray, left: pa.Array | pa.ChunkedArray,
                         right: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Each node's cluster: a table of ``unique_id`` and ``cluster_id`` (the smallest ``unique_id`` in it).

    Args:
        nodes: every record id (text), each once; a node without an edge is a cluster of its own.
        left, right: the two ends of each edge (ids among ``nodes``; an edge naming another id is ignored).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as label_components

    ordered = pc.sort_indices(pa.table({"n": nodes}), sort_keys=[("n", "ascending")])
    names = pc.take(nodes, ordered)
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    size = len(names)
    if size == 0:
        return pa.table({"unique_id": names, "cluster_id": names})
    ends_l, ends_r = (_positions(pc.index_in(end, value_set=names)) for end in (left, right))
    known = (ends_l >= 0) & (ends_r >= 0)
    ends_l, ends_r = ends_l[known], ends_r[known]
    graph = coo_matrix((np.ones(len(ends_l), np.int8), (ends_l, ends_r)), shape=(size, size)).tocsr()
    _count, labels = label_components(graph, directed=False)
    # Nodes are in id order, so the first node of each label is its smallest id.
    _labels, first = np.unique(labels, return_index=True)
    representative = np.empty(len(first), np.int64)
    representative[_labels] = first
    return pa.table({"unique_id": names, "cluster_id": pc.take(names, pa.array(representative[labels]))})


def _positions(found: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Positions as int64, -1 where the id is not a node."""
    if isinstance(found, pa.ChunkedArray):
        found = found.combine_chunks() if found.num_chunks else pa.array([], pa.int32())
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
