"""Knowledge-graph benchmark: load time and query latency (find + neighbours + paths) over random terms.

Usage:

    .venv/bin/python bench/kg.py [--data DIR] [--terms 200] [--seed 7] [--json OUT]

Graphs: the shipped default graph (always), the same graph read back from a SQLite store, and, when the
shared data exists (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data``), the full medical part
of Hetionet v1.0 with SIDER side effects plus DDXPlus (SIDER is non-commercial: read here locally, never
shipped).  Each query takes a random node's name or synonym, finds it (``KnowledgeGraph.find``), lists its
neighbours and searches up to 5 paths of at most 3 edges to another random node.  Baselines in the same run:
a linear scan over every node's names instead of the name index, and the same path search on an undirected
copy of the graph built once (``KnowledgeGraph.paths`` builds that copy on every call).  Target: p95 under
50 ms per query on the default graph (reported, never enforced).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carelm.kg.build import DEFAULT_GRAPH
from carelm.kg.graph import KnowledgeGraph, name_key
from carelm.kg.graphfile import assemble, read_graph

TARGET_MS = 50.0


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = func()
    return out, (time.perf_counter() - start) * 1000


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 3), "p95_ms": round(p95, 3),
            "max_ms": round(ordered[-1], 3)}


def linear_find(graph: KnowledgeGraph, term: str) -> list[str]:
    """The baseline: compare the term with every name and synonym."""
    key = name_key(term)
    return [n.id for n in graph.nodes() if any(name_key(x) == key for x in (n.name, *n.synonyms))]


def prebuilt_paths(graph: KnowledgeGraph) -> Callable[[str, str], list[list[str]]]:
    """A candidate for ``KnowledgeGraph.paths``: the same search on an undirected copy built once, not per call."""
    import networkx as nx

    undirected = nx.Graph(graph.graph.to_undirected(as_view=True))

    def paths(start: str, end: str, max_edges: int = 3, limit: int = 5) -> list[list[str]]:
        found: list[list[str]] = []
        try:
            for hops in nx.shortest_simple_paths(undirected, start, end):
                if len(hops) - 1 > max_edges or len(found) >= limit:
                    break
                found.append(hops)
        except nx.NetworkXNoPath:
            return []
        return found

    return paths


def query_latency(graph: KnowledgeGraph, terms: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    nodes = sorted(graph.nodes(), key=lambda n: n.id)
    candidate, build_ms = timed(lambda: prebuilt_paths(graph))
    times: dict[str, list[float]] = {"find": [], "neighbours": [], "paths": [], "query": [], "linear_find": [],
                                     "paths_prebuilt_undirected": []}
    misses = 0
    for _ in range(terms):
        node, other = rng.choice(nodes), rng.choice(nodes)
        term = rng.choice((node.name, *node.synonyms))
        found, t_find = timed(lambda term=term: graph.find(term))
        if not found:
            misses += 1
            continue
        _, t_near = timed(lambda found=found: graph.neighbours(found[0].id))
        _, t_paths = timed(lambda found=found, other=other: graph.paths(found[0].id, other.id, max_edges=3, limit=5))
        _, t_linear = timed(lambda term=term: linear_find(graph, term))
        _, t_candidate = timed(lambda found=found, other=other: candidate(found[0].id, other.id))
        for name, value in (("find", t_find), ("neighbours", t_near), ("paths", t_paths),
                            ("query", t_find + t_near + t_paths), ("linear_find", t_linear),
                            ("paths_prebuilt_undirected", t_candidate)):
            times[name].append(value)
    out: dict[str, Any] = {name: summary(values) for name, values in times.items()}
    out["paths_prebuilt_undirected"]["build_once_ms"] = round(build_ms, 1)
    out["terms"], out["not_found"] = terms, misses
    out["under_target"] = out["query"]["p95_ms"] < TARGET_MS
    return out


def store_load(graph: KnowledgeGraph) -> dict[str, float]:
    """Save the graph into a fresh SQLite store and load it back: the CLI's and API's path."""
    import base64

    from carelm.core.settings import get_settings
    from carelm.store.store import Store

    with tempfile.TemporaryDirectory(prefix="carelm-kg-bench-") as tmp:
        settings = get_settings(profile="test", data_dir=Path(tmp),
                                secret_key=base64.b64encode(bytes(range(32))).decode())
        store = Store.open(settings)
        _, save_ms = timed(lambda: store.kg.save(list(graph.nodes()), list(graph.edges())))
        loaded, load_ms = timed(store.kg.load_graph)
        store.close()
    assert len(loaded) == len(graph)
    return {"save_ms": round(save_ms, 1), "load_graph_ms": round(load_ms, 1)}


def full_graph(data: Path) -> KnowledgeGraph:
    from carelm.kg.loaders import ddxplus, hetionet, name_links

    het_nodes, het_edges = hetionet(data / "hetionet", include_noncommercial=True)
    ddx_nodes, ddx_edges = ddxplus(data / "ddxplus_kb")
    nodes = [*het_nodes, *ddx_nodes]
    return assemble(nodes, [*het_edges, *ddx_edges, *name_links(nodes)])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("CARELM_SHARED_DATA", "../shared/data")))
    parser.add_argument("--terms", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    results: dict[str, Any] = {}
    graph, load_ms = timed(lambda: read_graph(DEFAULT_GRAPH))
    results["default"] = {"file_bytes": DEFAULT_GRAPH.stat().st_size, "load_ms": round(load_ms, 1),
                          "nodes": len(graph), "edges": graph.graph.number_of_edges(),
                          "store": store_load(graph), **query_latency(graph, args.terms, args.seed)}
    if (args.data / "hetionet").is_dir() and (args.data / "ddxplus_kb").is_dir():
        full, load_ms = timed(lambda: full_graph(args.data))
        results["full_hetionet_sider_ddxplus"] = {"load_ms": round(load_ms, 1), "nodes": len(full),
                                                  "edges": full.graph.number_of_edges(),
                                                  **query_latency(full, args.terms, args.seed)}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
