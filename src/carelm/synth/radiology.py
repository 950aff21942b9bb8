"""Radiology report writer: header block, indication, technique, comparison, findings and impression."""

from __future__ import annotations

from datetime import timedelta

from .builder import capitalize, join, phi
from .findings import FINDING_PREFIX
from .orders import STUDIES, Study
from .writer import Writer

_HEADER_SPACING = ("    ", " | ", "   ")


def _preamble(w: Writer, study: Study) -> None:
    gap = w.pick(_HEADER_SPACING)
    w.line("{h} - Department of Radiology", h=phi(w.enc.facility, "HOSPITAL"))
    w.line("Patient: {n}" + gap + "MRN: {m}" + gap + "DOB: {d}", n=w.pt(("caps", "upper_full", "inverted")),
           m=phi(w.patient.mrn, "MRN"), d=w.date(w.patient.birth_date))
    accession = f"RA{w.day.year % 100:02d}-{w.ids.digits(7)}"
    w.line("Accession #: {a}" + gap + "Exam date: {d}", a=phi(accession, "ID"), d=w.date(w.day))
    w.line("Ordering provider: {o}", o=w.doctor(w.enc.attending))
    w.section("EXAM:")
    w.line(study.title)


def _indication(w: Writer) -> None:
    w.section("INDICATION:")
    target = w.pres.problem if w.pres.findings or not w.pres.differential else w.pres.differential[0]
    syms = join([w.symptom(s, short=0.4) for s in w.pres.symptoms[:2]])
    w.line(w.pick(("{a}-year-old {m} with {s}. Evaluate for {x}.", "{S}; rule out {x}.", "{S}. Concern for {x}.")),
           a=w.age(), m=w.man, s=syms, S=capitalize(syms), x=w.problem(target, uncertain=True))


def _technique_comparison(w: Writer, study: Study) -> None:
    w.section("TECHNIQUE:")
    w.say(study.technique)
    if w.chance(0.35):
        w.say(" Images were transferred from workstation {ip} to PACS.", ip=phi(w.ids.ip_address(), "IP"))
    w.line()
    w.section("COMPARISON:")
    prior = w.day - timedelta(days=w.rng.randint(60, 900))
    w.line(w.pick(("None available.", "{s} dated {d}.", "Prior study from {h} on {d}.")), s=capitalize(study.mention),
           d=w.date(prior), h=phi(w.pick(("Lakemont Memorial Hospital", "Mercy Vale Regional Hospital")), "HOSPITAL"))


def _findings(w: Writer, study: Study) -> list[str]:
    w.section("FINDINGS:")
    for finding in w.pres.findings:
        forms = ("Findings are consistent with {f}. ",) if finding == w.pres.problem else (
            "There is {p}{f}. ", "Findings demonstrate {p}{f}. ")
        w.say(w.pick(forms), p=w.pick(FINDING_PREFIX.get(finding, ("",))), f=w.problem(finding, short=0.0))
    absent = [f for f in study.negatives if f not in w.pres.findings]
    maybe = absent.pop() if absent and w.chance(0.3) else None
    for finding in absent:
        w.say(w.pick(("No {f}. ", "There is no {f}. ", "No evidence of {f}. ")),
              f=w.problem(finding, short=0.0, negated=True))
    if maybe:
        w.say(w.pick(("Possible trace {f}. ", "Questionable small {f}. ")), f=w.problem(maybe, uncertain=True))
    w.line(" ".join(study.normal))
    return absent


def _impression(w: Writer, absent: list[str]) -> None:
    w.section("IMPRESSION:")
    findings = [w.problem(f, short=0.0) for f in w.pres.findings]
    if w.pres.problem in w.pres.findings:
        w.line("1. {F}.", F=capitalize(join(findings)))
    elif findings:
        cue, uncertain = w.pick((("consistent with", False), ("concerning for", True), ("compatible with", False)))
        diagnosis = w.problem(w.pres.problem, uncertain=uncertain)
        w.line("1. {F}, {c} {p}.", F=capitalize(join(findings)), c=cue, p=diagnosis)
    else:
        w.line("1. No acute abnormality.")
    if absent:
        w.line("2. No {f}.", f=w.problem(absent[0], short=0.0, negated=True))


def _signature(w: Writer) -> None:
    w.line()
    w.line("Dictated by: {r}", r=w.signed(w.enc.radiologist, ("full", "inverted")))
    if w.chance(0.4):
        w.line("Findings discussed with {d} by telephone at {p}.", d=w.doctor(w.enc.attending),
               p=w.phone(w.ids.phone()))
    time = f"{w.rng.randint(8, 22):02d}:{w.rng.randint(0, 59):02d}"
    w.line("Electronically signed: {d} {t}", d=w.date(w.day, ("us", "iso")), t=time)


def radiology_report(w: Writer) -> str:
    """Write a radiology report for the encounter's study and return its title."""
    study = STUDIES[w.pres.study]
    _preamble(w, study)
    _indication(w)
    _technique_comparison(w, study)
    absent = _findings(w, study)
    _impression(w, absent)
    _signature(w)
    return study.title
