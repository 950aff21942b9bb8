"""Build the shipped default knowledge graph, ``resources/kg/default-graph.jsonl.gz``, and load it.

Only redistributable content goes in: Hetionet v1.0 nodes and medical edges (CC0; no SIDER side effects),
the DDXPlus knowledge base (CC BY 4.0, attributed in ``resources/MANIFEST.md``), the ICD-10-CM codes those
sources name with their ancestors (public domain), and the name links between them.  The DDI corpus and
SIDER are never part of it; :func:`build_default_graph` refuses any other licence.

Run ``python -m carelm.kg.build --shared-data ../shared/data [--out FILE]``.  The package never reads the
shared data at run time: :func:`default_graph` reads the compiled file.
"""

from __future__ import annotations

import argparse
import json
import os
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError, InputError
from carelm.kg.graph import KnowledgeGraph
from carelm.kg.graphfile import assemble, read_graph, write_jsonl
from carelm.kg.loaders import ddxplus, hetionet, icd10cm, name_links
from carelm.kg.sources import DDXPLUS_ATTRIBUTION, REDISTRIBUTABLE

DEFAULT_GRAPH = Path(__file__).resolve().parents[1] / "resources" / "kg" / "default-graph.jsonl.gz"


@lru_cache(maxsize=1)
def default_graph() -> KnowledgeGraph:
    """The shipped default graph, read once per process (treat it as read-only: it is shared)."""
    if not DEFAULT_GRAPH.exists():
        raise ConfigError("the default knowledge graph is missing; run `python -m carelm.kg.build`",
                          location=str(DEFAULT_GRAPH))
    return read_graph(DEFAULT_GRAPH)


def build_default_graph(shared_data: Path) -> KnowledgeGraph:
    """The default graph from ``shared_data`` (``hetionet/`` and ``ddxplus_kb/``), redistributable parts only."""
    het_nodes, het_edges = hetionet(shared_data / "hetionet", include_noncommercial=False)
    ddx_nodes, ddx_edges = ddxplus(shared_data / "ddxplus_kb", with_icd10=False)
    all_codes, _ = icd10cm()
    links = name_links([*het_nodes, *ddx_nodes, *all_codes])
    referenced = {e.target_id for e in (*ddx_edges, *links) if e.target_id.startswith("ICD10::")}
    codes = [node.attributes["code"] for node in all_codes if node.id in referenced]
    icd_nodes, icd_edges = icd10cm(codes)
    graph, dangling = assemble([*het_nodes, *ddx_nodes, *icd_nodes], [*het_edges, *ddx_edges, *icd_edges, *links])
    if dangling:
        raise InputError(f"{dangling} edge(s) name nodes that are not in the graph", location=str(shared_data))
    refused = sorted({item.licence for item in (*graph.nodes(), *graph.edges())} - REDISTRIBUTABLE)
    if refused:
        raise InputError(f"licence(s) {refused} may not be shipped", location=str(shared_data))
    return graph


def build_meta(graph: KnowledgeGraph) -> dict[str, Any]:
    """What the file's ``meta`` line says: sources, versions, licences, attribution and counts."""
    try:
        icd_package = version("simple_icd_10_cm")
    except PackageNotFoundError:
        icd_package = "unknown"
    return {
        "name": "carelm default knowledge graph",
        "sources": {
            "Hetionet v1.0": "hetio/hetionet nodes and Compound-treats/palliates-Disease, Disease-resembles-Disease, "
                             "Disease-localizes-Anatomy, Compound-resembles-Compound edges (CC0-1.0); no SIDER",
            "DDXPlus": f"release_conditions.json and release_evidences.json; {DDXPLUS_ATTRIBUTION}",
            "ICD-10-CM": f"codes named by the other sources with their ancestors, simple-icd-10-cm {icd_package} "
                         "(public domain)",
            "carelm name match": "same_as and maps_to edges between equal names (Apache-2.0)",
        },
        "licences": sorted({item.licence for item in (*graph.nodes(), *graph.edges())}),
        "attribution": [DDXPLUS_ATTRIBUTION],
        "stats": graph.stats(),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--shared-data DIR`` (default ``$CARELM_SHARED_DATA`` or ``../shared/data``), ``--out FILE``."""
    parser = argparse.ArgumentParser(prog="python -m carelm.kg.build", description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("CARELM_SHARED_DATA", "../shared/data")))
    parser.add_argument("--out", type=Path, default=DEFAULT_GRAPH)
    args = parser.parse_args(argv)
    graph = build_default_graph(args.shared_data)
    meta = build_meta(graph)
    lines = write_jsonl(graph, args.out, meta)
    print(json.dumps({"out": str(args.out), "lines": lines, "bytes": args.out.stat().st_size, **meta["stats"]},
                     indent=2))


if __name__ == "__main__":
    main()
