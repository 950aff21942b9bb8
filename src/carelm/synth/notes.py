"""Note composers: discharge summaries and progress notes, plus the dispatch table for all note kinds."""

from __future__ import annotations

from collections.abc import Callable

from .builder import phi
from .course import (
    assessment_plan,
    discharge_instructions,
    discharge_medications,
    follow_up,
    hospital_course,
)
from .findings import imaging, labs, physical_exam, review_of_systems, vital_signs
from .history import (
    allergies,
    chief_complaint,
    family_history,
    hpi,
    interval_history,
    medications,
    past_medical,
    past_surgical,
    social_history,
)
from .nursing import nursing_note
from .radiology import radiology_report
from .writer import Writer

_GAPS = ("    ", " | ", "   ")


def _identity_lines(w: Writer, gap: str) -> None:
    w.line("Patient: {n}" + gap + "MRN: {m}" + gap + "DOB: {d}", n=w.pt(("full", "inverted", "caps")),
           m=phi(w.patient.mrn, "MRN"), d=w.date(w.patient.birth_date))
    if w.chance(0.3):
        w.line("SSN: {s}" + gap + "Sex: {x}", s=phi(w.patient.ssn, "SSN"), x=w.patient.person.sex.capitalize())
    if w.chance(0.35):
        w.line("Insurance: {p}, member ID {m}", p=w.patient.payer, m=phi(w.patient.plan_id, "HEALTH_PLAN"))


def _signature(w: Writer) -> None:
    w.line()
    w.say("Electronically signed by {s} on {d}", s=w.signed(w.enc.attending), d=w.date(w.day, ("us", "long", "iso")))
    if w.chance(0.3):
        w.say(" (license {n})", n=phi(w.enc.attending.license, "LICENSE"))
    w.line(".")


def discharge_summary(w: Writer) -> str:
    """Write a discharge summary and return its title."""
    gap = w.pick(_GAPS)
    w.line("DISCHARGE SUMMARY")
    w.line("{h}", h=phi(w.enc.facility, "HOSPITAL"))
    _identity_lines(w, gap)
    w.line("Account #: {a}", a=phi(w.enc.account, "ACCOUNT"))
    w.line("Admission Date: {a}" + gap + "Discharge Date: {d}", a=w.date(w.enc.start, ("us", "iso", "long")),
           d=w.date(w.enc.end, ("us", "iso", "long")))
    w.say("Attending: {a}", a=w.signed(w.enc.attending))
    w.line(gap + "PCP: {p}" if w.chance(0.6) else "", p=w.doctor(w.patient.pcp))
    chief_complaint(w)
    hpi(w)
    optional = ((past_medical, 0.75), (past_surgical, 0.35), (medications, 0.25), (allergies, 0.6),
                (family_history, 0.35), (social_history, 0.35), (hospital_course, 1.0), (labs, 0.3), (imaging, 0.4))
    _run(w, optional)
    discharge_medications(w)
    discharge_instructions(w)
    follow_up(w)
    _signature(w)
    return "Discharge Summary"


def _run(w: Writer, sections: tuple[tuple[Callable[[Writer], None], float], ...]) -> None:
    for writer, p in sections:
        if w.chance(p):
            writer(w)


def progress_note(w: Writer) -> str:
    """Write an inpatient progress note or a clinic visit note and return its title."""
    gap = w.pick(_GAPS)
    inpatient = w.enc.inpatient
    title = w.pick(("Progress Note", "Internal Medicine Progress Note") if inpatient else
                   ("Clinic Visit Note", "Office Visit", "Primary Care Progress Note"))
    w.line(title.upper())
    w.line("{h}", h=phi(w.enc.facility, "HOSPITAL"))
    _identity_lines(w, gap)
    if not inpatient and w.chance(0.5):
        pat = w.patient
        w.line("Address: {a}, {c}, {s} {z}" + gap + "Phone: {p}", a=phi(pat.street, "ADDRESS"), c=phi(pat.city, "CITY"),
               s=phi(pat.state, "STATE"), z=phi(pat.zip, "ZIP"), p=w.phone(pat.phone))
    w.line("Date of service: {d}", d=w.date(w.day, ("us", "us_short", "long", "abbr", "dmy")))
    if inpatient:
        w.line("Hospital day {n}", n=str((w.day - w.enc.start).days + 1))
        optional = ((review_of_systems, 0.3), (vital_signs, 1.0), (physical_exam, 0.6), (labs, 0.6))
        _run(w, ((interval_history, 1.0), *optional))
    else:
        _run(w, ((chief_complaint, 1.0), (hpi, 1.0), (past_medical, 0.4), (medications, 0.4), (allergies, 0.4),
                 (family_history, 0.25), (social_history, 0.25), (review_of_systems, 0.4), (vital_signs, 1.0),
                 (physical_exam, 0.6), (labs, 0.4)))
    assessment_plan(w)
    _signature(w)
    return title


WRITERS: dict[str, Callable[[Writer], str]] = {
    "discharge_summary": discharge_summary,
    "progress_note": progress_note,
    "radiology_report": radiology_report,
    "nursing_note": nursing_note,
}
