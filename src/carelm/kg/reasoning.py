"""Reasoning over the knowledge graph: a differential diagnosis from findings, explained by graph paths.

The differential is naive Bayes, small enough to check by hand.  The diseases are those with at least one
``presents`` (Disease → Symptom) or ``risk_factor`` edge, under a uniform prior.  A reported finding
linked to a disease has likelihood P(finding | disease) = the edge's weight when it is a probability
below 1, else :data:`DEFAULT_LIKELIHOOD` (no weight, or 1.0: a plain assertion of the link); a finding
the disease is not linked to has the leak probability :data:`LEAK`.  An explicitly denied finding
contributes 1 − P.  The scores are the posterior over all modelled diseases, so they sum to 1 across the
whole graph, not across the suggestions shown.

Every suggestion carries its explanation: the reported findings it explains (``supporting``, with each
edge's source and evidence), the one-hop graph paths to them, the denied findings that lowered it
(``against``) and the findings it would also expect (``missing``).  :func:`treatments` and
:func:`interactions` are defined in :mod:`carelm.kg.therapy` and re-exported here; :func:`findings_from_text`
turns a note into findings with the extraction pipeline.
"""

from __future__ import annotations

import functools
import math
import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from carelm.core.pipeline import Pipeline
from carelm.core.types import Note, Span
from carelm.kg.graph import Edge, KnowledgeGraph, Node
from carelm.kg.matching import hop, icd10_of, match_diseases, match_nodes
from carelm.kg.therapy import InteractionReport, TreatmentReport, interactions, treatments

__all__ = ["Suggestion", "NoteFindings", "differential", "findings_from_text", "treatments", "interactions",
           "TreatmentReport", "InteractionReport", "posterior", "match_findings"]

DEFAULT_LIKELIHOOD = 0.8  # P(finding | disease) for a presents edge without a probability
LEAK = 0.02  # P(finding | disease not linked to it): findings also occur for other reasons
MAX_LIKELIHOOD = 0.99  # so that a denied finding never rules a disease out completely
FINDING_KINDS = ("Symptom", "RiskFactor")
FINDING_EDGES = ("presents", "risk_factor")
MAX_MISSING = 5

_MODELS: weakref.WeakKeyDictionary[KnowledgeGraph, tuple[tuple[int, int], dict]] = weakref.WeakKeyDictionary()


@dataclass
class Suggestion:
    """One condition of a differential, with its score and why."""

    condition: str
    node_id: str | None
    icd10: str | None
    score: float
    supporting: list[dict[str, Any]] = field(default_factory=list)
    against: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    paths: list[list[dict[str, Any]]] = field(default_factory=list)
    candidate: str | None = None  # the name as given, in candidates mode
    note: str | None = None  # why a candidate has no supporting finding
    error: str | None = None  # a candidate that names no Disease node

    def to_dict(self) -> dict[str, Any]:
        out = {"condition": self.condition, "node_id": self.node_id, "icd10": self.icd10, "score": self.score,
               "supporting": self.supporting, "against": self.against, "missing": self.missing,
               "paths": self.paths}
        out.update({key: value for key, value in (("candidate", self.candidate), ("note", self.note),
                                                  ("error", self.error)) if value is not None})
        return out


# --- the model --------------------------------------------------------------------------------------
def likelihood(edge: Edge) -> float:
    """P(finding | disease) of one edge: its weight when that is a probability below 1, else the default.

    A weight of 1.0 is how sources that only assert a link mark it (DDXPlus, Hetionet), so it is not read
    as certainty: a denied finding must lower a disease, not rule it out.
    """
    weight = edge.weight
    p = weight if weight is not None and 0.0 < weight < 1.0 else DEFAULT_LIKELIHOOD
    return min(max(p, LEAK), MAX_LIKELIHOOD)


def finding_model(graph: KnowledgeGraph) -> dict[str, dict[str, Edge]]:
    """Disease id → {finding node id → its most likely edge}; cached until the graph changes size."""
    size = (len(graph), graph.graph.number_of_edges())
    cached = _MODELS.get(graph)
    if cached is not None and cached[0] == size:
        return cached[1]
    model: dict[str, dict[str, Edge]] = {}
    for edge in graph.edges():
        if edge.kind not in FINDING_EDGES:
            continue
        ends = (graph.node(edge.source_id), graph.node(edge.target_id))
        disease = next((n for n in ends if n.kind == "Disease"), None)
        finding = next((n for n in ends if n.kind != "Disease"), None)
        if disease is None or finding is None:
            continue
        known = model.setdefault(disease.id, {})
        if finding.id not in known or likelihood(edge) > likelihood(known[finding.id]):
            known[finding.id] = edge
    _MODELS[graph] = (size, model)
    return model


def match_findings(graph: KnowledgeGraph, findings: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """({finding as given: matched node ids}, [findings naming no Symptom or RiskFactor node]).

    Two names of the same node(s) count once (the first spelling is kept).
    """
    matched: dict[str, list[str]] = {}
    unmatched: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for finding in findings:
        ids = tuple(node.id for node in match_nodes(graph, finding, FINDING_KINDS))
        if not ids:
            if finding not in unmatched:
                unmatched.append(finding)
        elif ids not in seen:
            seen.add(ids)
            matched[finding] = list(ids)
    return matched, unmatched


def _best_edge(links: dict[str, Edge], node_ids: list[str]) -> Edge | None:
    edges = [links[n] for n in node_ids if n in links]
    return max(edges, key=likelihood) if edges else None


def _log_likelihood(links: dict[str, Edge], present: dict[str, list[str]], absent: dict[str, list[str]]) -> float:
    total = 0.0
    for node_ids in present.values():
        edge = _best_edge(links, node_ids)
        total += math.log(likelihood(edge) if edge else LEAK)
    for node_ids in absent.values():
        edge = _best_edge(links, node_ids)
        total += math.log(1.0 - (likelihood(edge) if edge else LEAK))
    return total


def posterior(graph: KnowledgeGraph, present: dict[str, list[str]], absent: dict[str, list[str]]) -> dict[str, float]:
    """P(disease | findings) for every modelled disease (uniform prior, naive Bayes)."""
    return _posterior(finding_model(graph), present, absent)


def _posterior(model: dict[str, dict[str, Edge]], present: dict[str, list[str]],
               absent: dict[str, list[str]]) -> dict[str, float]:
    logs = {disease: _log_likelihood(links, present, absent) for disease, links in model.items()}
    if not logs:
        return {}
    top = max(logs.values())
    weights = {disease: math.exp(value - top) for disease, value in logs.items()}
    total = sum(weights.values())
    return {disease: weight / total for disease, weight in weights.items()}


# --- the differential --------------------------------------------------------------------------------
def differential(graph: KnowledgeGraph, findings: Sequence[str], absent: Sequence[str] = (),
                 candidates: Sequence[str] | None = None, top_k: int = 10) -> list[Suggestion]:
    """The ``top_k`` diseases best explaining ``findings`` (and the ``absent`` ones), each with its explanation.

    Only diseases explaining at least one reported finding are suggested.  With ``candidates``, the
    output is exactly those conditions in the given order (an unknown name gets score 0 and an ``error``).
    """
    present, _ = match_findings(graph, findings)
    denied, _ = match_findings(graph, absent)
    denied = {name: ids for name, ids in denied.items() if ids not in present.values()}
    model = finding_model(graph)
    scores = _posterior(model, present, denied)
    if candidates is not None:
        return [_candidate(graph, model, name, present, denied, scores) for name in candidates]
    explaining = [d for d in scores if any(_best_edge(model[d], ids) for ids in present.values())]
    explaining.sort(key=lambda d: (-scores[d], graph.node(d).name, d))
    return [_suggestion(graph, graph.node(d), model[d], present, denied, scores[d]) for d in explaining[:top_k]]


def _candidate(graph: KnowledgeGraph, model: dict[str, dict[str, Edge]], name: str, present: dict[str, list[str]],
               denied: dict[str, list[str]], scores: dict[str, float]) -> Suggestion:
    nodes = match_diseases(graph, name)
    if not nodes:
        return Suggestion(condition=name, node_id=None, icd10=None, score=0.0, candidate=name,
                          error=f"unmatched: no Disease node is named {name!r}")
    modelled = [node for node in nodes if node.id in scores]
    node = max(modelled, key=lambda n: scores[n.id]) if modelled else nodes[0]
    suggestion = _suggestion(graph, node, model.get(node.id, {}), present, denied, scores.get(node.id, 0.0))
    suggestion.candidate = name
    if node.id not in scores:
        suggestion.note = "the graph links no findings to this condition, so it cannot be scored"
    elif not suggestion.supporting:
        suggestion.note = "none of the reported findings is linked to this condition"
    return suggestion


def _suggestion(graph: KnowledgeGraph, disease: Node, links: dict[str, Edge], present: dict[str, list[str]],
                denied: dict[str, list[str]], score: float) -> Suggestion:
    """The suggestion of one disease whose finding edges are ``links``."""
    supporting, against, paths = [], [], []
    for finding, node_ids in present.items():
        edge = _best_edge(links, node_ids)
        if edge is not None:
            supporting.append(_finding_entry(graph, finding, edge, disease.id))
            paths.append([hop(edge)])
    for finding, node_ids in denied.items():
        edge = _best_edge(links, node_ids)
        if edge is not None:
            against.append(_finding_entry(graph, finding, edge, disease.id))
    reported = {n for ids in (*present.values(), *denied.values()) for n in ids}
    expected = [(likelihood(edge), graph.node(node_id).name, node_id)
                for node_id, edge in links.items() if node_id not in reported]
    expected.sort(key=lambda item: (-item[0], item[1]))
    missing = [{"finding": name, "node_id": node_id, "likelihood": round(p, 4)}
               for p, name, node_id in expected[:MAX_MISSING]]
    return Suggestion(condition=disease.name, node_id=disease.id, icd10=icd10_of(graph, disease),
                      score=round(score, 4), supporting=supporting, against=against, missing=missing, paths=paths)


def _finding_entry(graph: KnowledgeGraph, finding: str, edge: Edge, disease_id: str) -> dict[str, Any]:
    node_id = edge.target_id if edge.source_id == disease_id else edge.source_id
    return {"finding": finding, "node_id": node_id, "name": graph.node(node_id).name,
            "likelihood": round(likelihood(edge), 4), "source": edge.source, "licence": edge.licence,
            "evidence": [dict(e) for e in edge.evidence]}


# --- findings from a note -------------------------------------------------------------------------
NOT_ASSERTED = {"SYMPTOM": ("negated", "uncertain", "hypothetical", "family", "historical"),
                "PROBLEM": ("negated", "uncertain", "hypothetical", "family")}  # a past problem is an antecedent


# ICD-10-CM display names qualify a concept ("Allergy, unspecified"); graph nodes are named without that.
_QUALIFIERS = re.compile(r"^unspecified\s+|,\s*(?:unspecified|not elsewhere classified|NEC|NOS)\b.*$", re.IGNORECASE)


def finding_name(term: str) -> str:
    """A finding's name as graph nodes spell it: ICD-10-CM qualifiers dropped (``Pain, unspecified`` → ``Pain``)."""
    return _QUALIFIERS.sub("", term).strip() or term.strip()


class NoteFindings(NamedTuple):
    """What a note reports as present (``findings``) and explicitly denies (``absent``)."""

    findings: list[str]
    absent: list[str]


@functools.lru_cache(maxsize=1)
def text_pipeline() -> Pipeline:
    """The warm text stages of the extraction pipeline (no ICD-10 coding: findings need only mentions)."""
    from carelm.service.extract import TEXT_STAGES

    pipeline = Pipeline.from_names(TEXT_STAGES)
    pipeline.warm_up()
    return pipeline


def findings_from_mentions(mentions: Iterable[Span], text: str = "") -> NoteFindings:
    """SYMPTOM and PROBLEM mentions (canonical ``term`` where known, see :func:`finding_name`) split into
    asserted and denied.

    Asserted means none of negated, uncertain, hypothetical, family or historical, except that a historical
    PROBLEM is kept: a past condition (``history of asthma``) is an antecedent, i.e. a risk factor.  Denied
    means negated about the patient (not family, not hypothetical).  A finding both asserted and denied
    counts as asserted.
    """
    present: dict[str, None] = {}
    denied: dict[str, None] = {}
    for mention in mentions:
        if mention.label not in NOT_ASSERTED:
            continue
        flags = mention.attributes
        name = finding_name(str(flags.get("term") or text[mention.start:mention.end]))
        if not name:
            continue
        if not any(flags.get(flag) for flag in NOT_ASSERTED[mention.label]):
            present[name] = None
        elif flags.get("negated") and not (flags.get("family") or flags.get("hypothetical")):
            denied[name] = None
    return NoteFindings(list(present), [name for name in denied if name not in present])


def findings_from_text(text: str, pipeline: Pipeline | None = None) -> NoteFindings:
    """Run the extraction pipeline on ``text`` and return its findings and denied findings."""
    note = Note(text=text, id="findings")
    result = (pipeline or text_pipeline()).run([note])
    if result.failed:
        raise result.failed[0][1]
    return findings_from_mentions(note.layer("mentions"), text)
