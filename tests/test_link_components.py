"""People from their links in memory (scipy): the same clusters, named the same way, as Splink's clustering."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
from splink import DuckDBAPI
from splink.clustering import cluster_pairwise_predictions_at_threshold

from safertogether.link.components import connected_components


def _splink_clusters(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    connection = duckdb.connect()
    connection.register("n", pa.table({"unique_id": nodes}))
    connection.register("e", pa.table({"record_l": [a for a, _ in edges] or pa.array([], pa.string()),
                                       "record_r": [b for _, b in edges] or pa.array([], pa.string())}))
    found = cluster_pairwise_predictions_at_threshold(
        connection.table("n"), connection.table("e"), DuckDBAPI(connection=connection), node_id_column_name="unique_id",
        edge_id_column_name_left="record_l", edge_id_column_name_right="record_r")
    return dict(connection.execute(f"SELECT unique_id, cluster_id FROM {found.physical_name}").fetchall())


def _ours(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    table = connected_components(pa.array(nodes, pa.string()), pa.array([a for a, _ in edges], pa.string()),
                                 pa.array([b for _, b in edges], pa.string()))
    return dict(zip(table.column("unique_id").to_pylist(), table.column("cluster_id").to_pylist(), strict=True))


def test_random_graphs_cluster_as_splink_does() -> None:
    generator = random.Random(3)
    for _ in range(5):
        nodes = [f"agency-{generator.randint(1, 3)}:R{i:05d}" for i in range(600)]
        nodes = list(dict.fromkeys(nodes))
        generator.shuffle(nodes)
        edges = [tuple(generator.sample(nodes, 2)) for _ in range(400)]
        assert _ours(nodes, edges) == _splink_clusters(nodes, edges)


def test_lone_records_unknown_ids_and_an_empty_graph() -> None:
    found = _ours(["b", "a", "c"], [("c", "b"), ("c", "gone"), ("x", "y")])
    # A record without links is a person of its own; a pair naming a record no longer held joins nothing.
    assert found == {"a": "a", "b": "b", "c": "b"}
    assert _ours(["a"], []) == {"a": "a"}
    assert _ours([], []) == {}


def test_a_long_chain_is_one_cluster() -> None:
    nodes = [f"r{i:06d}" for i in range(20_000)]
    edges = list(zip(nodes[1:], nodes[:-1], strict=True))
    assert set(_ours(nodes, edges).values()) == {"r000000"}
