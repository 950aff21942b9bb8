"""ICD-10-CM coding of problem and symptom mentions: the ``codes`` layer and ``note.codes``.

Each asserted PROBLEM or SYMPTOM mention (not negated, uncertain, historical, hypothetical or about
family) gets ranked candidate codes from three sources:

1. ``exact`` (score 1.0): the mention's ``concept`` when it is a valid ICD-10-CM code;
2. ``synonym`` (score 0.95): the normalised mention text (covered text or canonical term) found in a
   dictionary of ICD-10-CM descriptions, inclusion terms, "includes" notes and the names that other codes'
   excludes notes refer to a code (``carelm.coding.codeset.references``);
3. ``embedding``: cosine similarity of the MiniLM embedding of the mention's term against the code
   texts of the vector index at ``index_path`` (see ``carelm.coding.index``), kept from ``min_score``.

Dictionary matches rank before embedding neighbours; a code found by several sources is listed once, under
its strongest method.  Without an index, coding uses the dictionary only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from carelm.coding.index import IcdIndex
from carelm.core.errors import ConfigError
from carelm.core.registry import Stage, register_stage
from carelm.core.types import Code, Note, Span
from carelm.extract.terms import fold, tokens_of

log = logging.getLogger(__name__)

MENTIONS = "mentions"
CODES = "codes"
SYSTEM = "ICD-10-CM"
CODED_TYPES = ("PROBLEM", "SYMPTOM")
EXCLUDING_FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")
EXACT_SCORE = 1.0
SYNONYM_SCORE = 0.95
_METHOD_ORDER = {"exact": 0, "synonym": 1, "embedding": 2}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate code of a mention."""

    code: str
    score: float
    method: str


def normalise(text: str) -> str:
    """The dictionary key of a text: word tokens folded to lower case, joined by single spaces."""
    return " ".join(fold(token) for token in tokens_of(text) if token[0].isalnum())


@lru_cache(maxsize=2)
def synonym_dictionary(inclusion_terms: bool = True) -> dict[str, str]:
    """Normalised ICD-10-CM description (and synonym) -> code, over categories, subcategories and codes
    (7th-character extensions left out).  Synonyms are inclusion terms, includes and excludes-note references;
    ``inclusion_terms=False`` leaves them all out.

    A key shared by several codes goes to a billable code before a category (``cough`` is R05.9, not R05),
    then to a description before a cleaned description before an inclusion term before a reference, then to
    the first in code order.
    """
    import simple_icd_10_cm as icd

    from carelm.coding.codeset import references
    from carelm.extract.terminology_build import clean_icd_term

    referenced: dict[str, list[str]] = {}
    for name, code in references() if inclusion_terms else ():
        referenced.setdefault(code, []).append(name)
    ranked: dict[str, tuple[int, int, int, str]] = {}
    for position, code in enumerate(icd.get_all_codes(True)):
        if icd.is_chapter_or_block(code) or icd.is_extended_subcategory(code):
            continue
        leaf = 0 if icd.is_leaf(code) else 1
        names = [(0, icd.get_description(code))]
        if inclusion_terms:
            names += [(2, name) for name in (*icd.get_inclusion_term(code), *icd.get_includes(code))]
            names += [(4, name) for name in referenced.get(code, ())]
        for source, name in names:
            cleaned = clean_icd_term(name)
            keys = [(source, normalise(name))] + ([(source + 1, normalise(cleaned))] if cleaned else [])
            for rank, key in keys:
                entry = (leaf, rank, position, code)
                if key and entry < ranked.get(key, (9, 9, 0, "")):
                    ranked[key] = entry
    return {key: entry[3] for key, entry in ranked.items()}


def valid_code(concept: Any) -> str | None:
    """``concept`` as a dotted ICD-10-CM code when it is one, else None."""
    import simple_icd_10_cm as icd

    if not isinstance(concept, str) or not concept or not icd.is_valid_item(concept):
        return None
    code = icd.add_dot(concept)
    return None if icd.is_chapter_or_block(code) else code


def is_codable(mention: Span) -> bool:
    """Whether a mention is an asserted problem or symptom of the patient."""
    return mention.label in CODED_TYPES and not any(mention.attributes.get(flag) for flag in EXCLUDING_FLAGS)


def rank(candidates: list[Candidate], top_k: int) -> list[Candidate]:
    """One candidate per code, at most ``top_k``: dictionary matches (exact, then synonym) before embedding
    neighbours, each by score; a code found by the dictionary keeps that method and score."""
    best: dict[str, Candidate] = {}
    for candidate in sorted(candidates, key=lambda c: (_METHOD_ORDER[c.method], -c.score, c.code)):
        best.setdefault(candidate.code, candidate)
    return list(best.values())[:top_k]


@register_stage
class IcdCoder(Stage):
    """Writes the ``codes`` layer (ranked candidates per mention) and ``note.codes`` (the best per mention)."""

    name: ClassVar[str] = "carelm.icd10.v1"
    reads: ClassVar[tuple[str, ...]] = (MENTIONS,)
    writes: ClassVar[tuple[str, ...]] = (CODES,)

    def __init__(self, top_k: int = 5, index_path: str | None = None, min_score: float = 0.3) -> None:
        super().__init__()
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ConfigError("parameter 'top_k' must be a positive integer", location=self.name)
        if index_path is not None and not isinstance(index_path, str):
            raise ConfigError("parameter 'index_path' must be a string path", location=self.name)
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not -1.0 <= min_score <= 1.0:
            raise ConfigError("parameter 'min_score' must be a number in [-1, 1]", location=self.name)
        self.top_k, self.index_path, self.min_score = top_k, index_path, float(min_score)
        self._dictionary: dict[str, str] = {}
        self._index: IcdIndex | None = None

    @property
    def params(self) -> dict[str, Any]:
        given = {"top_k": self.top_k, "index_path": self.index_path, "min_score": self.min_score}
        return {key: value for key, value in given.items() if value is not None}

    def warm_up(self) -> None:
        """Build the synonym dictionary and load the vector index and encoder when the index exists."""
        import simple_icd_10_cm as icd

        self._dictionary = synonym_dictionary()
        icd.get_description(valid_code("I10"))  # the code set builds its lookup tables on first use
        if self.index_path is not None and IcdIndex.exists(self.index_path):
            self._index = IcdIndex.load(self.index_path)
            self._index.warm_up()
        else:
            log.warning("icd10 index not found; coding with the dictionary only", extra={"stage": self.name})
        super().warm_up()

    def candidates(self, mentions: list[tuple[str, Span]]) -> list[list[Candidate]]:
        """Ranked candidates for ``(covered text, mention)`` pairs; one embedding batch for all of them."""
        if not self._warm:
            self.warm_up()
        found = [self._dictionary_candidates(text, mention) for text, mention in mentions]
        if self._index is not None and mentions:
            queries = [mention.attributes.get("term") or text for text, mention in mentions]
            for extra, hits in zip(found, self._index.search(queries, self.top_k), strict=True):
                extra += [Candidate(code, score, "embedding") for code, score in hits if score >= self.min_score]
        return [rank(items, self.top_k) for items in found]

    def _dictionary_candidates(self, text: str, mention: Span) -> list[Candidate]:
        found = []
        code = valid_code(mention.attributes.get("concept"))
        if code is not None:
            found.append(Candidate(code, EXACT_SCORE, "exact"))
        for name in (text, mention.attributes.get("term")):
            code = self._dictionary.get(normalise(name)) if isinstance(name, str) else None
            if code is not None:
                found.append(Candidate(code, SYNONYM_SCORE, "synonym"))
        return found

    def __call__(self, notes: list[Note]) -> list[Note]:
        work = [(note, mention) for note in notes for mention in note.layer(MENTIONS) if is_codable(mention)]
        ranked = self.candidates([(mention.text_of(note.text), mention) for note, mention in work])
        by_note: dict[int, list[tuple[Span, list[Candidate]]]] = {id(note): [] for note in notes}
        for (note, mention), items in zip(work, ranked, strict=True):
            by_note[id(note)].append((mention, items))
        for note in notes:
            self._assign(note, by_note[id(note)])
        return notes

    def _assign(self, note: Note, coded: list[tuple[Span, list[Candidate]]]) -> None:
        import simple_icd_10_cm as icd

        layer, best = [], {}
        for mention, items in coded:
            for position, item in enumerate(items, start=1):
                attributes = {
                    "display": icd.get_description(item.code),
                    "score": round(item.score, 3),
                    "rank": position,
                    "method": item.method,
                    "mention_type": mention.label,
                }
                layer.append(Span(mention.start, mention.end, item.code, attributes, stage=self.name))
            if items and items[0].score > best.get(items[0].code, (-2.0, None))[0]:
                best[items[0].code] = (items[0].score, mention)
        note.layers[CODES] = layer
        kept = [code for code in note.codes if code.stage != self.name]
        note.codes = kept + [self._code(code, score, mention) for code, (score, mention) in best.items()]

    def _code(self, code: str, score: float, mention: Span) -> Code:
        import simple_icd_10_cm as icd

        evidence = Span(mention.start, mention.end, mention.label, dict(mention.attributes), stage=mention.stage)
        return Code(SYSTEM, code, icd.get_description(code), round(score, 3), evidence, self.name)
