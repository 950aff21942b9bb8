"""Literature mining: co-occurrence edges between diseases, symptoms and drugs found in article abstracts.

The extraction stages (normalize, sections, sentences, terms, context) run over each title and abstract;
present (not negated) PROBLEM, SYMPTOM and DRUG mentions are grouped by their normalised canonical term.
For every pair of terms that share documents (disease–symptom, drug–disease, drug–drug) the counts give an
expected count, an observed/expected ratio, NPMI and the one-sided Fisher's exact p-value
(:mod:`carelm.kg.association`), as Hetionet did for MEDLINE.  Pairs seen in at least ``min_count`` documents
with ``p < max_p`` become ``cooccurs`` edges (attribute ``relation``), weighted by NPMI (0–1), with up to
ten article ids as evidence and one sentence where both terms appear.

Nodes are ``Disease::mined:<key>``, ``Symptom::mined:<key>`` and ``Compound::mined:<key>`` (the key is the
canonical term, lower case, words joined by ``-``).  A term whose concept is an ICD-10 code also gets a
``maps_to`` edge to ``ICD10::<code>``; one whose concept is a graph id of the same kind (``Compound::DB00945``)
a ``same_as`` edge to it.  Those ends are not in the mined file: the graph they join supplies them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, islice
from pathlib import Path
from typing import Any

from carelm.core.types import Note
from carelm.kg.abstracts import Abstract, read_abstracts
from carelm.kg.association import associate
from carelm.kg.graph import Edge, Node, name_key
from carelm.kg.graphfile import FORMAT, FORMAT_VERSION, edge_to_dict, node_to_dict
from carelm.kg.icd10 import icd10_id

__all__ = ["Abstract", "Cooccurrences", "TermMention", "concept_link", "cooccurrence", "corpus_name",
           "count_cooccurrence", "default_pipeline", "mine", "mined_graph", "mined_node", "mined_node_id",
           "present_mentions", "read_abstracts", "term_of", "write_graph_jsonl"]

log = logging.getLogger(__name__)

MINING_STAGES = ("carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.terms.v1",
                 "carelm.context.v1")
NODE_KINDS = {"PROBLEM": "Disease", "SYMPTOM": "Symptom", "DRUG": "Compound"}
RELATIONS = ("disease-symptom", "drug-disease", "drug-drug")
MAX_EVIDENCE = 10
MAX_SYNONYMS = 5
_ICD10 = re.compile(r"[A-TV-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
TermKey = tuple[str, str]  # (mention type, normalised canonical term)
Progress = Callable[[int, int | None], None]


@dataclass
class MinedTerm:
    """A normalised term and how often it was seen: documents, canonical names, surface forms, concepts."""

    type: str
    key: str
    documents: int = 0
    names: Counter = field(default_factory=Counter)
    surfaces: Counter = field(default_factory=Counter)
    concepts: Counter = field(default_factory=Counter)
    first_document: str = ""


@dataclass
class PairCount:
    """Documents holding both terms of a pair: the count, the first ids, and one shared sentence."""

    documents: int = 0
    ids: list[str] = field(default_factory=list)
    sentence: tuple[str, int] | None = None


@dataclass
class Cooccurrences:
    """Document counts of terms and of term pairs by relation, over ``documents`` processed articles."""

    documents: int = 0
    failed: int = 0
    terms: dict[TermKey, MinedTerm] = field(default_factory=dict)
    pairs: dict[tuple[str, TermKey, TermKey], PairCount] = field(default_factory=dict)

    def add_document(self, doc_id: str, note: Note) -> None:
        """Count the present mentions of one processed note and the pairs they form."""
        present = self._present_terms(doc_id, note)
        self.documents += 1
        by_type: dict[str, list[TermKey]] = {kind: [] for kind in NODE_KINDS}
        for term in sorted(present):
            by_type[term[0]].append(term)
        pairs = [("disease-symptom", d, s) for d in by_type["PROBLEM"] for s in by_type["SYMPTOM"] if d[1] != s[1]]
        pairs += [("drug-disease", c, d) for c in by_type["DRUG"] for d in by_type["PROBLEM"]]
        pairs += [("drug-drug", a, b) for a, b in combinations(by_type["DRUG"], 2)]
        for relation, x, y in pairs:
            count = self.pairs.setdefault((relation, x, y), PairCount())
            count.documents += 1
            if len(count.ids) < MAX_EVIDENCE:
                count.ids.append(doc_id)
            if count.sentence is None and (shared := present[x] & present[y]):
                count.sentence = (doc_id, min(shared))

    def _present_terms(self, doc_id: str, note: Note) -> dict[TermKey, set[int]]:
        """The terms of the note's present mentions, each with the numbers of the sentences holding it."""
        present: dict[TermKey, set[int]] = {}
        for mention in present_mentions(note, self.terms, doc_id):
            present.setdefault(mention.term, set()).add(mention.sentence)
        return present


@dataclass(frozen=True)
class TermMention:
    """A present mention of a mined term: its span, term and the number of its sentence (from 0)."""

    start: int
    end: int
    term: TermKey
    sentence: int


def present_mentions(note: Note, terms: dict[TermKey, MinedTerm], doc_id: str) -> list[TermMention]:
    """The note's present (not negated) PROBLEM, SYMPTOM and DRUG mentions as terms, counted into ``terms``
    (documents, canonical names, surface forms, concepts)."""
    starts = [span.start for span in note.layer("sentences")]
    found: list[TermMention] = []
    seen: set[TermKey] = set()
    for mention in note.layer("mentions"):
        attributes = mention.attributes
        if mention.label not in NODE_KINDS or attributes.get("negated"):
            continue
        surface = note.text[mention.start:mention.end]
        canonical = attributes.get("term") or surface
        key = name_key(canonical)
        if not key:
            continue
        term_key = (mention.label, key)
        term = terms.get(term_key)
        if term is None:
            term = terms[term_key] = MinedTerm(mention.label, key, first_document=doc_id)
        if term_key not in seen:
            seen.add(term_key)
            term.documents += 1
        term.names[canonical] += 1
        term.surfaces[surface] += 1
        if attributes.get("concept"):
            term.concepts[attributes["concept"]] += 1
        found.append(TermMention(mention.start, mention.end, term_key,
                                 max(0, bisect_right(starts, mention.start) - 1)))
    return found


def default_pipeline() -> Any:
    """The text extraction stages without ICD-10 coding (mentions carry their concept already)."""
    from carelm.core.pipeline import Pipeline

    return Pipeline.from_names(MINING_STAGES)


def count_cooccurrence(abstracts: Iterable[Abstract], pipeline: Any = None, batch_size: int = 32,
                       progress: Progress | None = None) -> Cooccurrences:
    """Run the extraction ``pipeline`` (default: :func:`default_pipeline`) over the abstracts, in batches,
    and count terms and pairs; an abstract that makes a stage fail is counted in ``failed`` and skipped."""
    pipeline = pipeline or default_pipeline()
    total = len(abstracts) if isinstance(abstracts, Sequence) else None
    counts = Cooccurrences()
    notes = (Note(text=a.text, id=a.id) for a in abstracts)
    for result in pipeline.batches(notes, batch_size):
        for note in result.done:
            counts.add_document(str(note.id), note)
        for note, _ in result.failed:
            counts.failed += 1
            log.warning("abstract skipped: the extraction failed", extra={"document_id": note.id})
        if progress is not None:
            progress(counts.documents + counts.failed, total)
    return counts


def cooccurrence(abstracts: Iterable[Abstract], pipeline: Any = None, min_count: int = 2, *, licence: str,
                 source: str = "mined", max_p: float = 0.05, batch_size: int = 32,
                 progress: Progress | None = None) -> tuple[list[Node], list[Edge]]:
    """Mined nodes and ``cooccurs`` edges (plus ``maps_to``/``same_as`` links) of the abstracts.

    ``licence`` is the licence of the corpus (written on every node and edge); ``source`` names it
    (``"mined:scifact"``).  Pairs need at least ``min_count`` shared documents and a Fisher p below ``max_p``.
    """
    counts = count_cooccurrence(abstracts, pipeline, batch_size, progress)
    return mined_graph(counts, min_count=min_count, max_p=max_p, licence=licence, source=source)


def mined_graph(counts: Cooccurrences, *, min_count: int = 2, max_p: float = 0.05, licence: str,
                source: str) -> tuple[list[Node], list[Edge]]:
    """The nodes and edges of the significant pairs in ``counts`` (see :func:`cooccurrence`)."""
    if min_count < 1 or not 0 < max_p <= 1:
        raise ValueError("min_count must be at least 1 and max_p in (0, 1]")
    edges: list[Edge] = []
    used: set[TermKey] = set()
    for (relation, x, y), pair in sorted(counts.pairs.items()):
        if pair.documents < min_count:
            continue
        found = associate(pair.documents, counts.terms[x].documents, counts.terms[y].documents, counts.documents)
        if found.p_value >= max_p or found.ratio <= 1.0:
            continue
        used.update((x, y))
        evidence = [{"pmid": doc_id} for doc_id in pair.ids]
        if pair.sentence is not None:
            evidence.append({"pmid": pair.sentence[0], "sentence_index": pair.sentence[1]})
        attributes = {"relation": relation, "documents": found.both, "source_documents": found.with_x,
                      "target_documents": found.with_y, "corpus_documents": found.total,
                      "expected": round(found.expected, 4), "ratio": round(found.ratio, 4),
                      "p_value": float(f"{found.p_value:.4g}"), "npmi": round(found.npmi, 4)}
        edges.append(Edge(mined_node_id(counts.terms[x]), mined_node_id(counts.terms[y]), "cooccurs", source, licence,
                          round(max(0.0, found.npmi), 4), tuple(evidence), attributes))
    nodes = [mined_node(counts.terms[term], source, licence) for term in sorted(used)]
    edges += [link for node in nodes if (link := concept_link(node, counts.terms[term_of(node)], source,
                                                               licence))]
    return nodes, edges


def mined_node_id(term: MinedTerm) -> str:
    return f"{NODE_KINDS[term.type]}::mined:{term.key.replace(' ', '-')}"


def term_of(node: Node) -> TermKey:
    return node.attributes["mention_type"], node.attributes["key"]


def mined_node(term: MinedTerm, source: str, licence: str) -> Node:
    name = term.names.most_common(1)[0][0]
    synonyms = [s for s, _ in term.surfaces.most_common()
                if name_key(s.removesuffix("'s")) != term.key and s != name]
    attributes: dict[str, Any] = {"mention_type": term.type, "key": term.key, "documents": term.documents}
    if term.concepts:
        attributes["concept"] = term.concepts.most_common(1)[0][0]
    return Node(mined_node_id(term), NODE_KINDS[term.type], name, tuple(dict.fromkeys(synonyms))[:MAX_SYNONYMS],
                source, licence, attributes)


def concept_link(node: Node, term: MinedTerm, source: str, licence: str) -> Edge | None:
    """``maps_to`` an ICD-10 code, or ``same_as`` a graph node of the same kind, from the term's concept."""
    concept = node.attributes.get("concept", "")
    evidence = ({"pmid": term.first_document, "concept": concept},)
    if _ICD10.fullmatch(concept):
        return Edge(node.id, icd10_id(concept), "maps_to", source, licence, 1.0, evidence)
    if concept.startswith(node.kind + "::") and concept != node.id:
        return Edge(node.id, concept, "same_as", source, licence, 1.0, evidence)
    return None


def write_graph_jsonl(nodes: Iterable[Node], edges: Iterable[Edge], path: str | Path,
                      meta: dict[str, Any] | None = None) -> int:
    """Write nodes and edges in the interchange format (:mod:`carelm.kg.graphfile`); edges may name nodes
    outside the file.  Written beside ``path`` and moved into place; returns the number of lines."""
    path = Path(path)
    lines = []
    if meta is not None:
        lines.append(json.dumps({"meta": {"format": FORMAT, "version": FORMAT_VERSION, **meta}}, sort_keys=True))
    lines += [_dump({"node": node_to_dict(n)}) for n in sorted(nodes, key=lambda n: n.id)]
    ordered = sorted(edges, key=lambda e: (e.source_id, e.target_id, e.kind, e.source))
    lines += [_dump({"edge": edge_to_dict(e)}) for e in ordered]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if path.name.endswith(".gz"):
        import gzip

        with gzip.GzipFile(partial, "wb", compresslevel=9, mtime=0) as handle:
            handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    else:
        partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return len(lines)


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def mine(path: str | Path, out: str | Path, licence: str, min_count: int = 2, limit: int | None = None,
         progress: Progress | None = None, *, max_p: float = 0.05, source: str | None = None,
         pipeline: Any = None) -> dict[str, Any]:
    """Mine the abstracts in ``path`` (the first ``limit``) into the graph file ``out``; return the counts.

    ``source`` defaults to ``mined:<corpus name>`` (the file's folder when the file name is generic).
    """
    path = Path(path)
    source = source or f"mined:{corpus_name(path)}"
    started = time.perf_counter()
    abstracts = list(islice(read_abstracts(path), limit))
    counts = count_cooccurrence(abstracts, pipeline, progress=progress)
    nodes, edges = mined_graph(counts, min_count=min_count, max_p=max_p, licence=licence, source=source)
    meta = {"source": source, "licence": licence, "corpus": path.name, "documents": counts.documents,
            "min_count": min_count, "max_p": max_p, "builder": "carelm.kg.mining"}
    write_graph_jsonl(nodes, edges, out, meta)
    by_relation = Counter(e.attributes["relation"] for e in edges if e.kind == "cooccurs")
    return {"abstracts": len(abstracts), "documents": counts.documents, "failed": counts.failed,
            "terms": len(counts.terms), "pairs": len(counts.pairs), "nodes": len(nodes), "edges": len(edges),
            "edges_by_relation": {relation: by_relation.get(relation, 0) for relation in RELATIONS},
            "links": sum(1 for e in edges if e.kind != "cooccurs"), "source": source, "out": str(out),
            "seconds": round(time.perf_counter() - started, 2)}


_GENERIC_NAMES = {"corpus", "train", "training", "dev", "devel", "test", "abstracts", "pubtator", "data"}


def corpus_name(path: Path) -> str:
    """A short name for a corpus file: its stem, or the nearest folder name when the stem is generic."""
    for name in (path.stem, *(parent.name for parent in path.parents)):
        if name and name.lower() not in _GENERIC_NAMES:
            return name_key(name).replace(" ", "-") or "corpus"
    return "corpus"
