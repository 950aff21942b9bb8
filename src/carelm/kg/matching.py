"""Matching the names people write to graph nodes, and the explanation pieces every suggestion carries.

Names are matched with :meth:`KnowledgeGraph.find` (case- and punctuation-insensitive, over names and
synonyms), trying simple singular forms when the name as written finds nothing.  A hop
``{"from", "edge", "to", "source"}`` is one step of an explanation path; :func:`provenance` adds the
edge's licence, weight and evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from carelm.kg.graph import Edge, KnowledgeGraph, Node


def name_variants(term: str) -> list[str]:
    """``term`` and simple singular forms of it (``fevers`` → ``fever``, ``rashes`` → ``rash``)."""
    text = term.strip()
    variants = [text, text.lower()]
    lowered = text.lower()
    if lowered.endswith("ies") and len(lowered) > 4:
        variants.append(lowered[:-3] + "y")
    if lowered.endswith("es") and len(lowered) > 4:
        variants.append(lowered[:-2])
    if lowered.endswith("s") and not lowered.endswith("ss") and len(lowered) > 3:
        variants.append(lowered[:-1])
    return list(dict.fromkeys(v for v in variants if v))


def match_nodes(graph: KnowledgeGraph, term: str, kinds: Sequence[str]) -> list[Node]:
    """Nodes of ``kinds`` named ``term`` (or a singular variant of it), in id order; empty when none."""
    for variant in name_variants(term):
        found = graph.find(variant, kinds)
        if found:
            return found
    return []


def match_diseases(graph: KnowledgeGraph, term: str) -> list[Node]:
    """Disease nodes named ``term``; else those mapped to the ICD-10 node named or coded ``term``
    (``Spontaneous pneumothorax``, ``J93``, ``ICD10::J93``)."""
    found = match_nodes(graph, term, ["Disease"])
    if found:
        return found
    code = term.strip().upper().removeprefix("ICD10::")
    codes = [graph.node(f"ICD10::{code}")] if f"ICD10::{code}" in graph else match_nodes(graph, term, ["ICD10"])
    diseases = {edge.source_id: graph.node(edge.source_id) for node in codes
                for edge in graph.in_edges(node.id, "maps_to") if graph.node(edge.source_id).kind == "Disease"}
    return [diseases[node_id] for node_id in sorted(diseases)]


def icd10_of(graph: KnowledgeGraph, node: Node) -> str | None:
    """The ICD-10 code of a disease: its surest ``maps_to`` target, else an ``icd10`` attribute, else None."""
    mapped = sorted((-(e.weight or 0.0), graph.node(e.target_id).attributes.get("code") or e.target_id.split("::")[-1])
                    for e in graph.out_edges(node.id, "maps_to"))
    if mapped:
        return mapped[0][1]
    value = node.attributes.get("icd10") or node.attributes.get("icd10_code")
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return str(value) if value else None


def hop(edge: Edge) -> dict[str, Any]:
    """One step of an explanation path."""
    return {"from": edge.source_id, "edge": edge.kind, "to": edge.target_id, "source": edge.source}


def provenance(edge: Edge) -> dict[str, Any]:
    """Where an edge comes from and why it is believed."""
    return {**hop(edge), "licence": edge.licence, "weight": edge.weight, "evidence": [dict(e) for e in edge.evidence],
            **({"attributes": dict(edge.attributes)} if edge.attributes else {})}
