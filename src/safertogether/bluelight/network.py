"""A drive network from OpenStreetMap and many-to-many travel times over it.

Read from an ``.osm.pbf`` extract (pyrosm), a GraphML drive graph (as osmnx saves it) or a raw
Overpass JSON answer; every edge gets a time from its length and a speed: the ``maxspeed`` tag where
it is readable, else the road class's typical speed (:class:`DrivingModel`), times the emergency
adjustment. Shortest times are scipy.sparse.csgraph's Dijkstra (about 25 times faster than networkx).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from safertogether.bluelight.geography import to_bng
from safertogether.errors import InputFormatError

#: Typical free-flow speeds (km/h) by OSM ``highway`` class where no ``maxspeed`` is tagged.
ROAD_SPEEDS_KMH: dict[str, float] = {
    "motorway": 100, "motorway_link": 60, "trunk": 80, "trunk_link": 50, "primary": 60, "primary_link": 40,
    "secondary": 50, "secondary_link": 35, "tertiary": 45, "tertiary_link": 30, "unclassified": 40,
    "residential": 30, "living_street": 15, "service": 20, "road": 30,
}


@dataclass(frozen=True)
class DrivingModel:
    """How fast an emergency vehicle is taken to drive: documented, configurable, not fitted.

    ``emergency_factor`` scales the posted or typical speed (blue-light driving exceeds limits where safe:
    1.0 is normal driving); ``urban_cap_kmh`` caps speed on roads limited to 30 mph or less, where
    exemptions gain little; ``turn_penalty_s`` is a fixed cost added per edge for junctions.
    """

    road_speeds_kmh: dict[str, float] = field(default_factory=lambda: dict(ROAD_SPEEDS_KMH))
    default_kmh: float = 30.0
    emergency_factor: float = 1.0
    urban_cap_kmh: float = 48.0
    turn_penalty_s: float = 2.0

    def speed(self, highway: str | None, maxspeed: str | None) -> float:
        posted = parse_maxspeed(maxspeed)
        kind = (highway or "").strip("[]'\" ").split("'")[0].split(",")[0]
        base = posted if posted is not None else self.road_speeds_kmh.get(kind, self.default_kmh)
        fast = base * self.emergency_factor
        return min(fast, self.urban_cap_kmh) if base <= 48.3 else fast


def parse_maxspeed(value: str | None) -> float | None:
    """km/h from an OSM maxspeed tag ("30 mph", "50", "['20 mph', '30 mph']"), or None."""
    if not value:
        return None
    numbers = re.findall(r"(\d+(?:\.\d+)?)\s*(mph)?", str(value))
    if not numbers:
        return None
    speeds = [float(n) * (1.609344 if mph or "mph" in str(value) else 1.0) for n, mph in numbers]
    return min(speeds)


@dataclass
class RoadNetwork:
    """Nodes in BNG metres and a sparse graph of edge times (minutes)."""

    xy: np.ndarray
    graph: sparse.csr_matrix
    source: str
    _tree: cKDTree | None = None

    @property
    def tree(self) -> cKDTree:
        if self._tree is None:
            self._tree = cKDTree(self.xy)
        return self._tree

    def snap(self, points: np.ndarray, within_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point (BNG) and whether it is within ``within_m``."""
        distance, node = self.tree.query(points)
        return node, distance <= within_m

    def times(self, origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        """Minutes from each origin node to each destination node (origins x destinations)."""
        sources, inverse = np.unique(origins, return_inverse=True)
        found = dijkstra(self.graph, indices=sources)[:, destinations]
        return np.asarray(found[inverse.ravel()])


def _graph(xy: np.ndarray, heads: np.ndarray, tails: np.ndarray, minutes: np.ndarray, oneway: np.ndarray,
           source: str) -> RoadNetwork:
    both = ~oneway
    rows, cols = np.r_[heads, tails[both]], np.r_[tails, heads[both]]
    values = np.r_[minutes, minutes[both]]
    n = len(xy)
    # parallel edges would be summed by a plain csr_matrix: keep the fastest of each pair of nodes instead
    graph = sparse.coo_matrix((values, (rows, cols)), shape=(n, n))
    order = np.lexsort((graph.data, graph.col, graph.row))
    r, c, v = graph.row[order], graph.col[order], graph.data[order]
    first = np.r_[True, (r[1:] != r[:-1]) | (c[1:] != c[:-1])]
    return RoadNetwork(xy, sparse.csr_matrix((v[first], (r[first], c[first])), shape=(n, n)), source)


def _edge_minutes(length_m: np.ndarray, highways: list[str | None], maxspeeds: list[str | None],
                  model: DrivingModel) -> np.ndarray:
    speeds = np.array([model.speed(h, m) for h, m in zip(highways, maxspeeds, strict=True)])
    return length_m / 1000.0 / speeds * 60.0 + model.turn_penalty_s / 60.0


def _is_oneway(values: list[object]) -> np.ndarray:
    return np.array([str(v).lower() in ("yes", "true", "1", "-1") for v in values])


def read_network(path: str | Path, model: DrivingModel | None = None) -> RoadNetwork:
    """A drive network from ``.osm.pbf``, ``.graphml`` or Overpass ``.json``."""
    path, model = Path(path), model or DrivingModel()
    if not path.is_file():
        raise InputFormatError(f"{path}: no such network file; give an .osm.pbf, .graphml or Overpass .json")
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith(".osm.pbf") or path.suffix.lower() == ".pbf":
            return _from_pbf(path, model)
        if path.suffix.lower() == ".graphml":
            return _from_graphml(path, model)
        if path.suffix.lower() == ".json":
            return _from_overpass(path, model)
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise InputFormatError(f"{path}: cannot be read as a road network ({exc})") from exc
    raise InputFormatError(f"{path}: unknown network format; give an .osm.pbf, .graphml or Overpass .json")


def _from_graphml(path: Path, model: DrivingModel) -> RoadNetwork:
    import networkx as nx

    graph = nx.read_graphml(path)
    ids = {node: i for i, node in enumerate(graph.nodes)}
    lon = np.array([float(d["x"]) for _, d in graph.nodes(data=True)])
    lat = np.array([float(d["y"]) for _, d in graph.nodes(data=True)])
    edges = list(graph.edges(data=True))
    heads = np.array([ids[u] for u, _, _ in edges])
    tails = np.array([ids[v] for _, v, _ in edges])
    length = np.array([float(d.get("length", 0.0)) for _, _, d in edges])
    minutes = _edge_minutes(length, [d.get("highway") for *_, d in edges], [d.get("maxspeed") for *_, d in edges],
                            model)
    # osmnx writes each direction of a two-way street as its own edge: every edge is one-way here
    directed = np.ones(len(edges), bool) if graph.is_directed() else np.zeros(len(edges), bool)
    return _graph(np.column_stack(to_bng(lon, lat)), heads, tails, minutes, directed, str(path))


def _from_overpass(path: Path, model: DrivingModel) -> RoadNetwork:
    elements = json.loads(path.read_text(encoding="utf-8"))["elements"]
    nodes = {e["id"]: (e["lon"], e["lat"]) for e in elements if e.get("type") == "node"}
    ways = [e for e in elements if e.get("type") == "way" and "highway" in e.get("tags", {})]
    ids = {node: i for i, node in enumerate(nodes)}
    xy = np.column_stack(to_bng(*np.array(list(nodes.values())).T)) if nodes else np.zeros((0, 2))
    heads, tails, highways, maxspeeds, oneway = [], [], [], [], []
    for way in ways:
        chain = [ids[n] for n in way.get("nodes", []) if n in ids]
        tags = way["tags"]
        reverse = tags.get("oneway") == "-1"
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            heads.append(b if reverse else a)
            tails.append(a if reverse else b)
            highways.append(tags.get("highway"))
            maxspeeds.append(tags.get("maxspeed"))
            oneway.append(tags.get("oneway", "no") in ("yes", "-1") or tags.get("junction") == "roundabout")
    h, t = np.array(heads, int), np.array(tails, int)
    length = np.hypot(*(xy[h] - xy[t]).T) if len(h) else np.zeros(0)
    return _graph(xy, h, t, _edge_minutes(length, highways, maxspeeds, model), np.array(oneway, bool), str(path))


def _from_pbf(path: Path, model: DrivingModel) -> RoadNetwork:
    from pyrosm import OSM

    nodes, edges = OSM(str(path)).get_network(network_type="driving", nodes=True)
    ids = {node: i for i, node in enumerate(nodes["id"].to_numpy())}
    xy = np.column_stack(to_bng(nodes["lon"].to_numpy(float), nodes["lat"].to_numpy(float)))
    heads = np.array([ids[u] for u in edges["u"].to_numpy()])
    tails = np.array([ids[v] for v in edges["v"].to_numpy()])
    maxspeed = edges["maxspeed"].tolist() if "maxspeed" in edges else [None] * len(edges)
    minutes = _edge_minutes(edges["length"].to_numpy(float), edges["highway"].tolist(), maxspeed, model)
    oneway = _is_oneway(edges["oneway"].tolist()) if "oneway" in edges else np.zeros(len(edges), bool)
    return _graph(xy, heads, tails, minutes, oneway, str(path))
