"""Per-note writing context: randomness, the builder, and helpers that turn vocabulary and PHI into spans."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

from .builder import NoteBuilder, Piece, Span, join, mention, phi
from .cases import Case, Encounter, age_on
from .identity import DATE_STYLES, Clinician, IdentityFactory, Person, format_date, format_name, format_phone
from .orders import DRUGS, PROCEDURES
from .vocab import PROBLEMS, SYMPTOMS

T = TypeVar("T")

HEADERS: dict[str, str] = {
    "CHIEF COMPLAINT:": "chief_complaint", "HISTORY OF PRESENT ILLNESS:": "hpi", "HPI:": "hpi",
    "PAST MEDICAL HISTORY:": "pmh", "PMH:": "pmh", "PAST SURGICAL HISTORY:": "psh", "MEDICATIONS:": "medications",
    "Meds:": "medications", "ALLERGIES:": "allergies", "FAMILY HISTORY:": "family_history",
    "SOCIAL HISTORY:": "social_history", "REVIEW OF SYSTEMS:": "ros", "PHYSICAL EXAM:": "physical_exam",
    "VITAL SIGNS:": "vitals", "LABS:": "labs", "IMAGING:": "imaging", "EXAM:": "imaging",
    "HOSPITAL COURSE:": "hospital_course", "ASSESSMENT AND PLAN:": "assessment_plan", "A/P:": "assessment_plan",
    "ASSESSMENT:": "assessment", "PLAN:": "plan", "DISCHARGE MEDICATIONS:": "discharge_medications",
    "DISCHARGE INSTRUCTIONS:": "discharge_instructions", "FOLLOW-UP:": "follow_up", "INDICATION:": "indication",
    "TECHNIQUE:": "technique", "COMPARISON:": "comparison", "FINDINGS:": "findings", "IMPRESSION:": "impression",
    "S:": "subjective", "O:": "objective",
}


class Writer:
    """Everything a section writer needs for one note: the case, the encounter, the day and the builder."""

    def __init__(self, rng: random.Random, ids: IdentityFactory, case: Case, enc: Encounter, day: date) -> None:
        self.rng, self.ids, self.case, self.enc, self.day = rng, ids, case, enc, day
        self.patient, self.profile, self.pres = case.patient, case.profile, enc.presentation
        self.b = NoteBuilder()
        female = self.patient.person.sex == "female"
        self.he, self.his, self.him = ("she", "her", "her") if female else ("he", "his", "him")
        self.man, self.title = ("woman", "Ms.") if female else ("man", "Mr.")
        self.sex_abbr = "F" if female else "M"
        self.comorbid = [c for c in self.profile.chronic if c != self.pres.problem]
        self.years = age_on(self.patient.birth_date, day)

    def pick(self, options: Sequence[T]) -> T:
        """Choose one option."""
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.rng.random() < p

    def sample(self, options: Sequence[T], k: int) -> list[T]:
        """Choose up to ``k`` distinct options."""
        return self.rng.sample(list(options), min(k, len(options)))

    def section(self, header: str) -> None:
        """Start a section under one of :data:`HEADERS`."""
        self.b.header(header, HEADERS[header])

    def say(self, template: str, **slots: Piece) -> None:
        """Write a template without ending the line."""
        self.b.say(template, **slots)

    def line(self, template: str = "", **slots: Piece) -> None:
        """Write a template and end the line."""
        self.b.line(template, **slots)

    def history_phrase(self, k: int = 2) -> Piece:
        """``a history of X and Y`` for up to ``k`` comorbidities, or a statement that there are none."""
        if not self.comorbid:
            return "no significant past medical history"
        items = join([self.problem(p, short=0.6) for p in self.comorbid[:k]])
        return [self.pick(("a history of ", "PMH significant for ", "", "")), items]

    def problem(self, name: str, short: float = 0.3, **flags: Any) -> Span:
        """A PROBLEM mention, sometimes abbreviated, carrying its ICD-10-CM code."""
        entry = PROBLEMS[name]
        text = entry.abbr if entry.abbr and self.chance(short) else entry.name
        return mention(text, "PROBLEM", icd10=entry.icd10, **flags)

    def symptom(self, name: str, short: float = 0.0, **flags: Any) -> Span:
        """A SYMPTOM mention, sometimes abbreviated."""
        entry = SYMPTOMS[name]
        text = entry.abbr if entry.abbr and self.chance(short) else entry.name
        return mention(text, "SYMPTOM", **flags)

    def drug(self, name: str, dose: bool = True, **flags: Any) -> Piece:
        """A DRUG mention, followed by dose, route and frequency when ``dose`` is true."""
        entry = DRUGS[name]
        span = mention(entry.name, "DRUG", **flags)
        return [span, f" {entry.dose} {entry.route} {entry.freq}"] if dose else span

    def test(self, name: str, **flags: Any) -> Span:
        """A TEST mention."""
        return mention(name, "TEST", **flags)

    def procedure(self, name: str, short: float = 0.0, **flags: Any) -> Span:
        """A PROCEDURE mention, sometimes abbreviated."""
        abbr = PROCEDURES[name]
        return mention(abbr if abbr and self.chance(short) else name, "PROCEDURE", **flags)

    def date(self, d: date, styles: Sequence[str] = DATE_STYLES) -> Piece:
        """A DATE span in one of ``styles`` (a bare day of the month is written as ``the 5th``)."""
        style = self.pick(styles)
        span = phi(format_date(d, style), "DATE")
        return ["the ", span] if style == "day" else span

    def name(self, person: Person, role: str, forms: Sequence[str] = ("full",)) -> Span:
        """A NAME span for ``person`` written in one of ``forms``."""
        return phi(format_name(person, self.pick(forms)), "NAME", role=role)

    def pt(self, forms: Sequence[str] = ("full", "last", "inverted")) -> Span:
        """The patient's name."""
        return self.name(self.patient.person, "patient", forms)

    def mr(self) -> Piece:
        """``Ms. Lastname`` / ``Mr. Lastname`` with the surname as a NAME span."""
        return [f"{self.title} ", self.name(self.patient.person, "patient", ("last",))]

    def doctor(self, clinician: Clinician) -> Piece:
        """``Dr. Lastname`` for physicians, the full name and credential otherwise."""
        if clinician.credential in ("MD", "DO"):
            return ["Dr. ", self.name(clinician.person, "clinician", ("last",))]
        return [self.name(clinician.person, "clinician"), f", {clinician.credential}"]

    def signed(self, clinician: Clinician, forms: Sequence[str] = ("full",)) -> Piece:
        """A signature: name and credential."""
        return [self.name(clinician.person, "clinician", forms), f", {clinician.credential}"]

    def phone(self, digits: str, label: str = "PHONE") -> Span:
        """A PHONE (or FAX) span in a random style."""
        return phi(format_phone(digits, self.rng.randint(0, 2)), label)

    def age(self, day: date | None = None) -> Piece:
        """The patient's age on ``day`` (default: the note day); an AGE span only when over 89."""
        return self.older(age_on(self.patient.birth_date, day or self.day))

    def older(self, years: int) -> Piece:
        """Any other age: an AGE span when over 89, plain text otherwise."""
        return phi(str(years), "AGE") if years > 89 else str(years)
