"""Relation mining: a relation classifier from the model lab reads candidate pairs in abstracts, and the
pairs it accepts become graph edges with the sentences and scores that support them.

Two relations, matching the training examples of :mod:`carelm.kg.relations`:

- ``cid`` (chemical-induced disease): a present DRUG and a present PROBLEM term of one abstract; the text
  is the sentences holding both (up to three), every mention of the two terms wrapped in ``<e1>``/``<e2>``
  tags (or blinded as ``CHEMICAL``/``DISEASE``), as :func:`~carelm.kg.relations.cid_examples` writes them.
  An accepted pair is an ``induces`` edge Compound → Disease.
- ``ddi`` (drug–drug interaction): two different present DRUG terms of one sentence, one candidate per
  sentence, blinded as ``DRUG1``/``DRUG2`` with the sentence's other drugs as ``DRUG0`` (or tagged), as
  :func:`~carelm.kg.relations.ddi_examples` writes them.  An accepted pair is an ``interacts`` edge between
  the two compounds (ends in id order) whose ``type`` is the most frequent predicted type, so interaction
  checks show it.

A candidate is accepted when the model's label is not ``none`` and its probability is at least
``min_score``.  Accepted candidates are grouped by term pair over the corpus: the edge's weight is the best
score, its attributes the number of supporting abstracts and candidates, the mean score and the model; its
evidence up to ten ``{"pmid", "sentence", "score"}`` items, best first.  Nodes and concept links are those
of co-occurrence mining (:mod:`carelm.kg.mining`), so the two files join the same ``…::mined:<key>`` nodes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, islice
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError
from carelm.core.types import Note
from carelm.kg.abstracts import Abstract, read_abstracts
from carelm.kg.graph import Edge, Node
from carelm.kg.mining import (
    MinedTerm,
    TermKey,
    TermMention,
    concept_link,
    corpus_name,
    default_pipeline,
    mined_node,
    mined_node_id,
    present_mentions,
    term_of,
    write_graph_jsonl,
)
from carelm.kg.relations import CID_BLINDED, DDI_BLINDED, E1, E2, MARKINGS, NONE, OTHER, mark

__all__ = ["KINDS", "Candidate", "RelationKind", "candidates", "relate", "relation_graph"]

MAX_EVIDENCE = 10
MAX_SENTENCES = 3
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class RelationKind:
    """How one relation is read from abstracts and written to the graph."""

    name: str
    edge_kind: str
    first: str  # mention type of argument e1
    second: str  # mention type of argument e2
    marking: str  # the default marking, as the training examples use it
    blinded: dict[str, str]
    labels: tuple[str, ...]  # positive labels the model may give


KINDS = {
    "cid": RelationKind("cid", "induces", "DRUG", "PROBLEM", "tags", CID_BLINDED, ("CID",)),
    "ddi": RelationKind("ddi", "interacts", "DRUG", "DRUG", "blind", DDI_BLINDED,
                        ("advise", "effect", "int", "mechanism")),
}


@dataclass
class Candidate:
    """One marked text for one term pair of one abstract."""

    document: str
    first: TermKey  # (mention type, term key)
    second: TermKey
    text: str
    sentence: str  # the unmarked sentence(s), for evidence


@dataclass
class _Found:
    """Accepted candidates of one term pair."""

    documents: set[str] = field(default_factory=set)
    scores: list[float] = field(default_factory=list)
    types: Counter = field(default_factory=Counter)
    evidence: list[tuple[float, str, str]] = field(default_factory=list)  # (score, document, sentence)


def candidates(note: Note, kind: RelationKind, marking: str,
               terms: dict[TermKey, MinedTerm]) -> list[Candidate]:
    """The candidate pairs of one processed note (mentions and sentences layers) for ``kind``."""
    sentences = [(span.start, span.end) for span in note.layer("sentences")] or [(0, len(note.text))]
    mentions = present_mentions(note, terms, str(note.id))
    blinded = kind.blinded if marking == "blind" else None
    out: list[Candidate] = []
    if kind.first == kind.second:  # ddi: pairs of different terms within one sentence
        for number, (start, end) in enumerate(sentences):
            inside = [m for m in mentions if m.sentence == number and m.term[0] == kind.first]
            firsts: dict[TermKey, TermMention] = {}
            for m in inside:
                firsts.setdefault(m.term, m)
            for a, b in combinations(sorted(firsts), 2):
                spans = [(firsts[a].start - start, firsts[a].end - start, E1),
                         (firsts[b].start - start, firsts[b].end - start, E2)]
                spans += [(m.start - start, m.end - start, OTHER) for m in inside if m not in (firsts[a], firsts[b])]
                text = note.text[start:end]
                out.append(Candidate(str(note.id), a, b, mark(text, spans, blinded), " ".join(text.split())))
        return out
    holding: dict[TermKey, set[int]] = {}
    for m in mentions:
        holding.setdefault(m.term, set()).add(m.sentence)
    firsts_terms = sorted(t for t in holding if t[0] == kind.first)
    seconds_terms = sorted(t for t in holding if t[0] == kind.second)
    for a in firsts_terms:
        for b in seconds_terms:
            shared = sorted(holding[a] & holding[b])[:MAX_SENTENCES]
            if not shared:
                continue
            texts, plain = [], []
            for number in shared:
                start, end = sentences[number]
                spans = [(m.start - start, m.end - start, E1 if m.term == a else E2)
                         for m in mentions if m.sentence == number and m.term in (a, b)]
                texts.append(mark(note.text[start:end], spans, blinded))
                plain.append(" ".join(note.text[start:end].split()))
            out.append(Candidate(str(note.id), a, b, " ".join(texts), " ".join(plain)))
    return out


def _check_model(labels: Sequence[str], kind: RelationKind, multilabel: bool) -> None:
    if multilabel or NONE not in labels or not set(labels) - {NONE} <= set(kind.labels):
        raise ConfigError(f"the model does not classify {kind.name} relations: it needs single-label classes "
                          f"{NONE!r} and some of {', '.join(kind.labels)} (it has {', '.join(labels)})")


def relation_graph(abstracts: Iterable[Abstract], model: str | Path, kind: str = "cid", *, licence: str,
                   source: str, marking: str | None = None, min_score: float = 0.5, backend: str = "torch",
                   batch_size: int = 32, pipeline: Any = None,
                   progress: Progress | None = None) -> tuple[list[Node], list[Edge], dict[str, int]]:
    """Nodes and relation edges the classifier at ``model`` finds in ``abstracts``, and counts."""
    from carelm.lab.inference import Predictor

    if kind not in KINDS:
        raise ConfigError(f"unknown relation {kind!r}; choose one of {', '.join(KINDS)}")
    relation = KINDS[kind]
    marking = marking or relation.marking
    if marking not in MARKINGS:
        raise ConfigError(f"unknown marking {marking!r}; choose one of {', '.join(MARKINGS)}")
    if not 0 < min_score <= 1:
        raise ConfigError("min_score must be in (0, 1]")
    predictor = Predictor(model, backend=backend)
    _check_model(predictor.card.labels, relation, predictor.card.multilabel)
    pipeline = pipeline or default_pipeline()
    total = len(abstracts) if isinstance(abstracts, Sequence) else None
    terms: dict[TermKey, MinedTerm] = {}
    found: dict[tuple[TermKey, TermKey], _Found] = {}
    counts = {"documents": 0, "failed": 0, "candidates": 0, "accepted": 0}
    notes = (Note(text=a.text, id=a.id) for a in abstracts)
    for result in pipeline.batches(notes, batch_size):
        batch = [c for note in result.done for c in candidates(note, relation, marking, terms)]
        counts["documents"] += len(result.done)
        counts["failed"] += len(result.failed)
        counts["candidates"] += len(batch)
        for candidate, prediction in zip(batch, predictor.predict([c.text for c in batch]) if batch else [],
                                         strict=True):
            label = prediction["label"]
            score = float(prediction["scores"][label])
            if label == NONE or score < min_score:
                continue
            counts["accepted"] += 1
            pair = found.setdefault((candidate.first, candidate.second), _Found())
            pair.documents.add(candidate.document)
            pair.scores.append(score)
            pair.types[label] += 1
            pair.evidence.append((score, candidate.document, candidate.sentence))
        if progress is not None:
            progress(counts["documents"] + counts["failed"], total)
    model_name = f"{Path(model).name}"
    edges, used = [], set()
    for (a, b), pair in sorted(found.items()):
        used.update((a, b))
        ends = sorted((mined_node_id(terms[a]), mined_node_id(terms[b]))) if relation.first == relation.second \
            else [mined_node_id(terms[a]), mined_node_id(terms[b])]
        best = sorted(pair.evidence, key=lambda e: (-e[0], e[1], e[2]))
        evidence, seen = [], set()
        for score, document, sentence in best:
            if (document, sentence) in seen:
                continue
            seen.add((document, sentence))
            evidence.append({"pmid": document, "sentence": sentence, "score": round(score, 4)})
            if len(evidence) == MAX_EVIDENCE:
                break
        attributes: dict[str, Any] = {"relation": relation.name, "documents": len(pair.documents),
                                      "candidates": len(pair.scores),
                                      "mean_score": round(sum(pair.scores) / len(pair.scores), 4),
                                      "model": model_name}
        if relation.name == "ddi":
            attributes["type"] = pair.types.most_common(1)[0][0]
            attributes["types"] = dict(sorted(pair.types.items()))
        edges.append(Edge(ends[0], ends[1], relation.edge_kind, source, licence, round(max(pair.scores), 4),
                          tuple(evidence), attributes))
    nodes = [mined_node(terms[term], source, licence) for term in sorted(used)]
    edges += [link for node in nodes if (link := concept_link(node, terms[term_of(node)], source, licence))]
    return nodes, edges, counts


def relate(path: str | Path, model: str | Path, out: str | Path, *, kind: str = "cid", licence: str,
           source: str | None = None, marking: str | None = None, min_score: float = 0.5, limit: int | None = None,
           backend: str = "torch", progress: Progress | None = None, pipeline: Any = None) -> dict[str, Any]:
    """Mine ``kind`` relations from the abstracts in ``path`` (the first ``limit``) with the classifier at
    ``model`` into the graph file ``out``; return the counts.  ``source`` defaults to
    ``mined:<corpus>:<kind>``."""
    path = Path(path)
    source = source or f"mined:{corpus_name(path)}:{kind}"
    started = time.perf_counter()
    abstracts = list(islice(read_abstracts(path), limit))
    nodes, edges, counts = relation_graph(abstracts, model, kind, licence=licence, source=source, marking=marking,
                                          min_score=min_score, backend=backend, pipeline=pipeline,
                                          progress=progress)
    meta = {"source": source, "licence": licence, "corpus": path.name, "documents": counts["documents"],
            "relation": kind, "model": str(Path(model).name), "min_score": min_score,
            "builder": "carelm.kg.relate"}
    write_graph_jsonl(nodes, edges, out, meta)
    relation_edges = sum(1 for e in edges if e.kind == KINDS[kind].edge_kind)
    return {**counts, "abstracts": len(abstracts), "nodes": len(nodes), "edges": relation_edges,
            "links": len(edges) - relation_edges, "source": source, "out": str(out),
            "seconds": round(time.perf_counter() - started, 2)}
