"""Optional polishing of a report draft by a language model, and the check that it added nothing.

Each section's template text (its statements with citation markers) is sent to the backend on its own with
an instruction to rewrite it as prose, using only the facts given and keeping the markers.  The reply is
accepted only when the check below finds nothing in it that the section's template text does not support;
otherwise the section keeps its template text and the report says why.  The check flags:

* a citation marker the section did not have, or one of its markers missing (a statement dropped);
* a number (``40``, ``2.5``, ``134/65``) or an ICD-10-CM code absent from the template text;
* a clinical term (the dictionary matcher's PROBLEM, SYMPTOM, DRUG, TEST or PROCEDURE mentions) whose
  concept the template text does not mention, or mentions only with the other polarity (a denied finding
  written as present, or the reverse; polarity from the ConText assertion stage);
* a word absent from the template text that is not a known English or clinical word (a drug or product
  name the dictionary does not know).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from carelm.core.errors import CarelmError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import create_stage
from carelm.core.types import Note
from carelm.generate.base import Backend
from carelm.generate.reports import Report

MARKER = re.compile(r"\[(\d+)\]")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,:/]\d+)*")
ICD_CODE = re.compile(r"\b[A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]")
CHECKED_TYPES = ("PROBLEM", "SYMPTOM", "DRUG", "TEST", "PROCEDURE")
TEXT_STAGES = ("carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.terms.v1",
               "carelm.context.v1")
SYSTEM_PROMPT = (
    "You edit draft clinical documents. Rewrite the statements you are given as clear, concise clinical prose "
    "for one section of a {title}. Use only the facts in the statements: add no diagnosis, finding, drug, dose, "
    "number or date, and keep every denied finding denied. Keep each citation marker such as [3] right after "
    "the fact it supports. Reply with the rewritten section only."
)


@dataclass
class PolishCheck:
    """Finds what a rewritten text states that its source text does not (see the module docstring)."""

    pipeline: Pipeline = field(default_factory=lambda: Pipeline([create_stage(name) for name in TEXT_STAGES]))
    known_word: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        if self.known_word is None:
            from carelm.deid.lexicon import lexicon

            words = lexicon()
            self.known_word = lambda word: words.known(word) or words.inflected(word)

    def facts(self, text: str) -> list[tuple[str, str, bool]]:
        """``(concept, surface, negated)`` of each clinical mention of ``text``."""
        result = self.pipeline.run([Note(text=text, id="polish-check")])
        if result.failed:
            raise result.failed[0][1]
        note = result.done[0]
        return [(str(m.attributes.get("concept") or m.attributes.get("term")), text[m.start:m.end],
                 bool(m.attributes.get("negated"))) for m in note.layer("mentions") if m.label in CHECKED_TYPES]

    def unsupported(self, source: str, polished: str) -> list[str]:
        """Reasons the polished text is not supported by ``source``; empty when it is."""
        reasons = []
        allowed, used = set(MARKER.findall(source)), set(MARKER.findall(polished))
        dropped = sorted(allowed - used, key=int)
        if dropped:
            reasons.append(f"citation marker(s) {', '.join(f'[{m}]' for m in dropped)} dropped")
        reasons += [f"unknown citation marker [{m}]" for m in sorted(used - allowed, key=int)]
        source_plain, plain = MARKER.sub(" ", source), MARKER.sub(" ", polished)
        numbers = set(NUMBER.findall(source_plain))
        reasons += [f"number {n} is not in the data" for n in dict.fromkeys(NUMBER.findall(plain)) if n not in numbers]
        codes = set(ICD_CODE.findall(source_plain))
        reasons += [f"code {c} is not in the data" for c in dict.fromkeys(ICD_CODE.findall(plain)) if c not in codes]
        given = self.facts(source_plain)
        polarity = {(concept, negated) for concept, _, negated in given}
        concepts = {concept for concept, _, _ in given}
        for concept, surface, negated in self.facts(plain):
            if concept not in concepts:
                reasons.append(f"'{surface}' is not in the data")
            elif (concept, negated) not in polarity:
                reasons.append(f"'{surface}' is {'denied' if negated else 'affirmed'}, unlike the data")
        source_words = {w.lower() for w in WORD.findall(source_plain)}
        for word in dict.fromkeys(WORD.findall(plain)):
            if word.lower() not in source_words and not self.known_word(word.lower()):
                reasons.append(f"'{word}' is not in the data")
        return list(dict.fromkeys(reasons))


def polish_report(report: Report, backend: Backend, check: PolishCheck, *, max_tokens: int = 400) -> Report:
    """Rewrite each section with ``backend``; keep a rewrite only when ``check`` finds nothing unsupported."""
    for section in report.sections:
        if not section.statements:
            section.polish = {"status": "skipped", "reasons": ["no statements"], "backend": backend.name}
            continue
        messages = [{"role": "system", "content": SYSTEM_PROMPT.format(title=report.title.lower())},
                    {"role": "user", "content": f"Section: {section.heading}\n{section.template_text}"}]
        try:
            reply = backend.complete(messages, max_tokens=max_tokens, temperature=0.0).strip()
        except CarelmError as exc:  # a refused or failed call keeps the template text
            section.polish = {"status": "failed", "reasons": [f"{exc.code}: {exc.message}"], "backend": backend.name}
            continue
        reasons = ["the reply was empty"] if not reply else check.unsupported(section.template_text, reply)
        if reasons:
            section.polish = {"status": "rejected", "reasons": reasons, "backend": backend.name}
        else:
            section.text = reply
            section.polish = {"status": "accepted", "reasons": [], "backend": backend.name}
    return report
