"""Treatment options for a condition and interactions between medications, each with the edges behind it.

Options are the Compound nodes with a ``treats`` or ``palliates`` edge to the condition, or to the node
another source has for it (``same_as``), optionally also to diseases it ``resembles`` (marked ``indirect``).
A compound the patient is allergic to is moved to ``excluded`` with the reason: its name contains the
allergen's name as whole words (``penicillin`` excludes ``Penicillin V``), or it ``resembles`` a compound
named by the allergy (cross-reactivity).  Interactions with current medications come from ``interacts``
edges, in either direction, with their mechanism ``type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from carelm.core.errors import NotFoundError
from carelm.kg.graph import Edge, KnowledgeGraph, Node, name_key
from carelm.kg.matching import hop, match_diseases, match_nodes, provenance

TREATMENT_EDGES = ("treats", "palliates")


@dataclass
class TreatmentOption:
    """A compound for the condition, with the edges that say so and any interaction with current medications."""

    compound: str
    node_id: str
    relation: str
    evidence: list[dict[str, Any]]
    paths: list[list[dict[str, Any]]]
    indirect: bool = False
    via: str | None = None  # the similar disease an indirect option treats
    interactions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExcludedOption:
    """A compound left out because of an allergy, with the reason and the edges behind it."""

    compound: str
    node_id: str
    reason: str
    evidence: list[dict[str, Any]]
    paths: list[list[dict[str, Any]]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TreatmentReport:
    condition: str
    node_ids: list[str]
    options: list[TreatmentOption]
    excluded: list[ExcludedOption]
    unmatched: dict[str, list[str]]  # allergies and medications naming no Compound node

    def to_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "node_ids": self.node_ids,
                "options": [o.to_dict() for o in self.options], "excluded": [e.to_dict() for e in self.excluded],
                "unmatched": self.unmatched}


@dataclass
class InteractionReport:
    pairs: list[dict[str, Any]]
    unmatched: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "unmatched": self.unmatched}


def treatments(graph: KnowledgeGraph, condition: str, allergies: Sequence[str] = (),
               medications: Sequence[str] = (), include_similar: bool = False) -> TreatmentReport:
    """Compounds that treat or palliate ``condition``, allergies excluded, interactions with medications flagged."""
    matched = match_diseases(graph, condition)
    if not matched:
        raise NotFoundError(f"no Disease node is named {condition!r}", location="condition")
    diseases = equivalents(graph, matched)
    options = _direct_options(graph, diseases)
    if include_similar:
        options.update(_similar_options(graph, diseases, set(options)))
    allergens = {allergy: match_nodes(graph, allergy, ["Compound"]) for allergy in allergies}
    taking = {medication: match_nodes(graph, medication, ["Compound"]) for medication in medications}
    kept, excluded = [], []
    for option in options.values():
        reason = _allergy_reason(graph, graph.node(option.node_id), allergens)
        if reason is None:
            option.interactions = _interactions_with(graph, option.node_id, taking)
            kept.append(option)
        else:
            text, edges = reason
            excluded.append(ExcludedOption(option.compound, option.node_id, text,
                                           option.evidence + [provenance(e) for e in edges],
                                           option.paths + [[hop(e)] for e in edges]))
    kept.sort(key=lambda o: (o.indirect, o.relation != "treats", -len(o.evidence), o.compound))
    excluded.sort(key=lambda o: o.compound)
    unmatched = {"allergies": [a for a, nodes in allergens.items() if not nodes],
                 "medications": [m for m, nodes in taking.items() if not nodes]}
    return TreatmentReport(matched[0].name, [d.id for d, _ in diseases], kept, excluded, unmatched)


def interactions(graph: KnowledgeGraph, medications: Sequence[str]) -> InteractionReport:
    """Every interacting pair among ``medications`` (in list order), with type and evidence."""
    matched = [(name, match_nodes(graph, name, ["Compound"])) for name in dict.fromkeys(medications)]
    pairs = []
    for i, (name_a, nodes_a) in enumerate(matched):
        for name_b, nodes_b in matched[i + 1:]:
            a_ids = [n.id for n in nodes_a]
            edges = _edges_between(graph, a_ids, [n.id for n in nodes_b])
            if edges:
                first = edges[0]
                a_id, b_id = ((first.source_id, first.target_id) if first.source_id in a_ids
                              else (first.target_id, first.source_id))
                pairs.append({"a": name_a, "b": name_b, "a_id": a_id, "b_id": b_id,
                              "type": _type_of(edges), "evidence": [provenance(e) for e in edges],
                              "paths": [[hop(e)] for e in edges]})
    return InteractionReport(pairs, [name for name, nodes in matched if not nodes])


def _option(graph: KnowledgeGraph, edge: Edge, options: dict[str, TreatmentOption], path: list[dict[str, Any]],
            via: str | None = None) -> None:
    compound = graph.node(edge.source_id)
    option = options.get(compound.id)
    if option is None:
        option = options[compound.id] = TreatmentOption(compound.name, compound.id, edge.kind, [], [],
                                                        indirect=via is not None, via=via)
    if edge.kind == "treats":
        option.relation = "treats"
    option.evidence.append(provenance(edge))
    option.paths.append(path)


def _treating_edges(graph: KnowledgeGraph, disease_id: str) -> list[Edge]:
    return sorted((e for e in graph.in_edges(disease_id) if e.kind in TREATMENT_EDGES
                   and graph.node(e.source_id).kind == "Compound"), key=lambda e: (e.source_id, e.kind, e.source))


def equivalents(graph: KnowledgeGraph, diseases: list[Node]) -> list[tuple[Node, Edge | None]]:
    """The matched diseases, then the Disease nodes another source has for them (``same_as``), with that edge."""
    found: list[tuple[Node, Edge | None]] = [(disease, None) for disease in diseases]
    seen = {disease.id for disease in diseases}
    for disease in diseases:
        for edge, other in graph.neighbours(disease.id, ["same_as"]):
            if other.kind == "Disease" and other.id not in seen:
                seen.add(other.id)
                found.append((other, edge))
    return found


def _direct_options(graph: KnowledgeGraph, diseases: list[tuple[Node, Edge | None]]) -> dict[str, TreatmentOption]:
    options: dict[str, TreatmentOption] = {}
    for disease, link in diseases:
        for edge in _treating_edges(graph, disease.id):
            _option(graph, edge, options, [hop(edge)] + ([hop(link)] if link else []))
    return options


def _similar_options(graph: KnowledgeGraph, diseases: list[tuple[Node, Edge | None]],
                     direct: set[str]) -> dict[str, TreatmentOption]:
    """Options for diseases that resemble the condition, for compounds not already direct options."""
    options: dict[str, TreatmentOption] = {}
    wanted = {disease.id for disease, _ in diseases}
    for disease, _ in diseases:
        for similarity, other in graph.neighbours(disease.id, ["resembles"]):
            if other.kind != "Disease" or other.id in wanted:
                continue
            for edge in _treating_edges(graph, other.id):
                if edge.source_id not in direct:
                    _option(graph, edge, options, [hop(edge), hop(similarity)], via=other.name)
    return options


def _allergy_reason(graph: KnowledgeGraph, compound: Node,
                    allergens: dict[str, list[Node]]) -> tuple[str, list[Edge]] | None:
    """Why ``compound`` must not be offered (with the edges showing it), or None."""
    names = [f" {name_key(n)} " for n in (compound.name, *compound.synonyms)]
    for allergy, nodes in allergens.items():
        key = name_key(allergy)
        if compound.id in {n.id for n in nodes} or (key and any(f" {key} " in name for name in names)):
            return f"allergy: {allergy}", []
    for allergy, nodes in allergens.items():
        for edge, other in graph.neighbours(compound.id, ["resembles"]):
            if other.id in {n.id for n in nodes}:
                return f"cross-reactivity: similar compound to {other.name} (allergy: {allergy})", [edge]
    return None


def _edges_between(graph: KnowledgeGraph, a_ids: list[str], b_ids: list[str]) -> list[Edge]:
    """``interacts`` edges between any of ``a_ids`` and any of ``b_ids``, in either direction."""
    b_set = set(b_ids)
    edges = [e for a in a_ids for e in graph.out_edges(a, "interacts") + graph.in_edges(a, "interacts")
             if (e.target_id if e.source_id == a else e.source_id) in b_set and e.source_id != e.target_id]
    unique = {(e.source_id, e.target_id, e.kind, e.source): e for e in edges}
    return sorted(unique.values(), key=lambda e: (e.source, e.source_id, e.target_id))


def _type_of(edges: list[Edge]) -> str | None:
    return next((str(e.attributes["type"]) for e in edges if e.attributes.get("type")), None)


def _interactions_with(graph: KnowledgeGraph, compound_id: str, taking: dict[str, list[Node]]) -> list[dict[str, Any]]:
    found = []
    for medication, nodes in taking.items():
        edges = _edges_between(graph, [compound_id], [n.id for n in nodes if n.id != compound_id])
        if edges:
            found.append({"with": medication, "type": _type_of(edges), "evidence": [provenance(e) for e in edges]})
    return found
