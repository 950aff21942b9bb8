"""Relation-extraction examples for the model lab: drug–drug interactions (DDI 2013) and
chemical-induced disease (BioCreative V CDR), as :class:`RelationExample` items for ``train_classifier``.

Each candidate pair becomes one text with its two arguments marked, either wrapped in tags
(``<e1>warfarin</e1> ... <e2>aspirin</e2>``) or replaced by placeholders ("entity blinding": ``DRUG1``,
``DRUG2`` and ``DRUG0`` for the other drugs of a DDI sentence; ``CHEMICAL`` and ``DISEASE`` for a CID
pair), which keeps a small model from learning drug names instead of the wording of the interaction.
Whitespace is collapsed after marking.

- :func:`ddi_examples`: every ``<pair>`` of the DDI 2013 XML files under a folder, label ``mechanism``,
  ``effect``, ``advise``, ``int`` or ``none``; id = pair id, group = document id.  A pair marked
  ``ddi="true"`` without a type (one in the training set) is labelled ``int``, the corpus's generic type.
  Discontinuous entities (``charOffset="3-9;20-25"``) are marked on their first fragment.
- :func:`cid_examples`: every (chemical, disease) concept pair of a BC5CDR PubTator document, label ``CID``
  when the document lists that relation, else ``none``; id = ``<document>:<chemical>:<disease>``, group =
  document id.  The text is the sentences holding both (up to ``max_sentences``), or with
  ``scope="document"`` and no shared sentence, the closest sentence of each.

DDI 2013 is CC BY-NC 4.0: read it from a user-given path for evaluation, never ship anything made from it.
Bad input raises :class:`~carelm.core.errors.InputError` naming the file and line (XML: file and element).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from xml.parsers.expat import ErrorString

from carelm.core.errors import ConfigError, InputError
from carelm.lab.data import ClassifyExample, PubtatorDocument, pubtator_to_tokens, read_pubtator

DDI_TYPES = ("advise", "effect", "int", "mechanism")
CID = "CID"
NONE = "none"
E1, E2, OTHER = "e1", "e2", "other"
DDI_BLINDED = {E1: "DRUG1", E2: "DRUG2", OTHER: "DRUG0"}
CID_BLINDED = {E1: "CHEMICAL", E2: "DISEASE"}
MARKINGS = ("tags", "blind")
SCOPES = ("sentence", "document")
_OFFSETS = re.compile(r"\d+-\d+(?:;\d+-\d+)*")


@dataclass(frozen=True, slots=True)
class RelationExample(ClassifyExample):
    """A marked candidate pair with its label; ``group`` (the document id) keeps a document on one side of a split."""

    group: str = ""


def mark(text: str, spans: Sequence[tuple[int, int, str]], blinded: Mapping[str, str] | None = None) -> str:
    """``text`` with each ``(start, end, role)`` span (end exclusive) wrapped in ``<role>…</role>``, or, with
    ``blinded``, replaced by ``blinded[role]``; ``other`` spans are only replaced, never tagged.

    Of overlapping spans the arguments (``e1``, then ``e2``) win over others, then the earlier one.
    """
    chosen: list[tuple[int, int, str]] = []
    for start, end, role in sorted(spans, key=lambda span: ((E1, E2).index(span[2]) if span[2] != OTHER else 2,
                                                             span[0])):
        if not any(start < taken_end and taken_start < end for taken_start, taken_end, _ in chosen):
            chosen.append((start, end, role))
    pieces, cursor = [], 0
    for start, end, role in sorted(chosen):
        pieces.append(text[cursor:start])
        surface = text[start:end]
        if blinded is not None:
            pieces.append(blinded.get(role, surface))
        else:
            pieces.append(surface if role == OTHER else f"<{role}>{surface}</{role}>")
        cursor = end
    pieces.append(text[cursor:])
    return " ".join("".join(pieces).split())


def _blinding(marking: str, placeholders: Mapping[str, str]) -> Mapping[str, str] | None:
    if marking not in MARKINGS:
        raise ConfigError(f"unknown marking {marking!r}; choose one of {', '.join(MARKINGS)}")
    return placeholders if marking == "blind" else None


# --- DDI 2013 ------------------------------------------------------------------------------------
def ddi_examples(folder: str | Path, marking: str = "blind") -> Iterator[RelationExample]:
    """One example per ``<pair>`` of the DDI 2013 XML files in ``folder`` (searched recursively, in name
    order; a single file is accepted too), streamed file by file."""
    blinded = _blinding(marking, DDI_BLINDED)
    root = Path(folder)
    files = [root] if root.is_file() else sorted(root.rglob("*.xml"))
    if not files:
        raise InputError("no DDI XML files (*.xml) found", location=str(root))
    for path in files:
        yield from _ddi_file(path, blinded)


def _ddi_file(path: Path, blinded: Mapping[str, str] | None) -> Iterator[RelationExample]:
    document_id = None
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            if event == "start" and element.tag == "document":
                document_id = element.get("id")
                if not document_id:
                    raise InputError("<document> needs an 'id'", location=f"{path}: <document>")
            elif event == "end" and element.tag == "sentence":
                if document_id is None:
                    raise InputError("<sentence> must be inside a <document>", location=f"{path}: <sentence>")
                yield from _ddi_sentence(path, document_id, element, blinded)
                element.clear()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise InputError(f"malformed XML ({ErrorString(exc.code) if exc.code else 'parse error'})",
                         location=f"{path}:{line}") from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", location=str(path)) from None


def _ddi_sentence(path: Path, document_id: str, sentence: ET.Element,
                  blinded: Mapping[str, str] | None) -> Iterator[RelationExample]:
    text, sentence_id = sentence.get("text"), sentence.get("id")
    where = f"{path}: <sentence id={sentence_id!r}>"
    if text is None or not sentence_id:
        raise InputError("<sentence> needs 'id' and 'text'", location=where)
    entities = {}
    for entity in sentence.iter("entity"):
        entity_id, span = entity.get("id"), _entity_span(path, entity, text)
        entities[entity_id] = span
    for pair in sentence.iter("pair"):
        pair_id, first, second = pair.get("id"), pair.get("e1"), pair.get("e2")
        location = f"{path}: <pair id={pair_id!r}>"
        if not pair_id or first not in entities or second not in entities or first == second:
            raise InputError("<pair> needs an 'id' and 'e1', 'e2': two different entities of its sentence",
                             location=location)
        spans = [(*entities[first], E1), (*entities[second], E2)]
        spans += [(*span, OTHER) for key, span in entities.items() if key not in (first, second)]
        yield RelationExample(mark(text, spans, blinded), (_ddi_label(pair, location),), pair_id, document_id)


def _entity_span(path: Path, entity: ET.Element, text: str) -> tuple[int, int]:
    """The entity's first fragment as ``(start, end)`` with ``end`` exclusive (DDI offsets are inclusive)."""
    entity_id, offsets, surface = entity.get("id"), entity.get("charOffset") or "", entity.get("text")
    location = f"{path}: <entity id={entity_id!r}>"
    if not entity_id or surface is None or not _OFFSETS.fullmatch(offsets):
        raise InputError("<entity> needs 'id', 'text' and 'charOffset' like '12-18' or '3-9;20-25'",
                         location=location)
    fragments = [tuple(int(n) for n in part.split("-")) for part in offsets.split(";")]
    if any(not 0 <= start <= last < len(text) for start, last in fragments):
        raise InputError(f"charOffset {offsets} lies outside its sentence", location=location)
    start, last = fragments[0]
    if len(fragments) == 1 and text[start:last + 1] != surface:
        raise InputError(f"charOffset {offsets} does not match the entity text", location=location)
    return start, last + 1


def _ddi_label(pair: ET.Element, location: str) -> str:
    ddi, kind = pair.get("ddi"), pair.get("type")
    if ddi not in ("true", "false"):
        raise InputError("<pair> attribute 'ddi' must be 'true' or 'false'", location=location)
    if ddi == "false":
        return NONE
    if kind is None:
        return "int"
    if kind not in DDI_TYPES:
        raise InputError(f"<pair> type {kind!r} is not one of {', '.join(DDI_TYPES)}", location=location)
    return kind


# --- BC5CDR chemical-induced disease -------------------------------------------------------------
def cid_examples(pubtator_path: str | Path, marking: str = "tags", scope: str = "document",
                 max_sentences: int = 3) -> Iterator[RelationExample]:
    """One example per (chemical, disease) concept pair of each document of a BC5CDR PubTator file.

    ``scope="sentence"`` keeps only pairs that share a sentence.  Mentions without a concept (``-1``) are
    ignored; a mention with several concepts (``D014786|D006311``) counts for each.
    """
    blinded = _blinding(marking, CID_BLINDED)
    if scope not in SCOPES:
        raise ConfigError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
    path = Path(pubtator_path)
    for document in read_pubtator(path):
        yield from _cid_document(path, document, blinded, scope, max_sentences)


def cid_gold(document: PubtatorDocument) -> set[tuple[str, str]]:
    """The document's CID relations as (chemical, disease) concept pairs."""
    return {(relation.id1, relation.id2) for relation in document.relations if relation.type == CID}


def _concepts(document: PubtatorDocument, mention_type: str) -> dict[str, list[int]]:
    """Concept id -> indexes of the document's mentions of ``mention_type`` that carry it."""
    found: dict[str, list[int]] = {}
    for index, mention in enumerate(document.mentions):
        if mention.type == mention_type:
            for concept in mention.concept_id.split("|"):
                if concept.strip() and concept.strip() != "-1":
                    found.setdefault(concept.strip(), []).append(index)
    return found


def _cid_document(path: Path, document: PubtatorDocument, blinded: Mapping[str, str] | None, scope: str,
                  max_sentences: int) -> Iterator[RelationExample]:
    if any(not relation.id1 or not relation.id2 for relation in document.relations):
        raise InputError("a relation needs two concept ids", location=f"{path}: document {document.id}")
    gold = cid_gold(document)
    bounds = [(ex.offsets[0][0], ex.offsets[-1][1]) for ex in pubtator_to_tokens([document]) if ex.offsets]
    starts = [start for start, _ in bounds]
    sentence_of = [max(0, bisect_right(starts, m.start) - 1) for m in document.mentions]
    chemicals, diseases = _concepts(document, "Chemical"), _concepts(document, "Disease")
    for chemical, disease in product(sorted(chemicals), sorted(diseases)):
        in_chemical = {sentence_of[i] for i in chemicals[chemical]}
        in_disease = {sentence_of[i] for i in diseases[disease]}
        shared = sorted(in_chemical & in_disease)[:max_sentences]
        if not shared and scope == "sentence":
            continue
        chosen = shared or sorted(set(min(product(in_chemical, in_disease), key=lambda p: (abs(p[0] - p[1]), p))))
        roles = {i: E1 for i in chemicals[chemical]} | {i: E2 for i in diseases[disease]}
        pieces = []
        for number in chosen:
            start, end = bounds[number]
            spans = [(m.start - start, m.end - start, roles.get(i, OTHER)) for i, m in enumerate(document.mentions)
                     if sentence_of[i] == number]
            pieces.append(mark(document.text[start:end], spans, blinded))
        label = CID if (chemical, disease) in gold else NONE
        yield RelationExample(" ".join(pieces), (label,), f"{document.id}:{chemical}:{disease}", document.id)
