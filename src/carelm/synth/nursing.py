"""Nursing note writer: short SOAP or abbreviated layouts with bedside identifiers."""

from __future__ import annotations

from collections.abc import Callable

from .builder import capitalize, join, phi
from .findings import exam_lines, vital_signs
from .history import pertinent_negatives
from .writer import Writer

_UNITS = ("4 West", "5 North", "Telemetry", "Medical ICU", "Step-down Unit")


def _relative(w: Writer) -> None:
    contact = w.patient.contact
    w.line("Pt's {r} {n} called at {p} and was updated on the plan of care.", r=contact.relation,
           n=w.name(contact.person, "relative", ("full", "first")), p=w.phone(contact.phone))


def _device(w: Writer) -> None:
    kind, serial = w.patient.device
    w.line("Pt has a home {k}, serial no. {s}; settings verified.", k=kind, s=phi(serial, "DEVICE"))


def _vehicle(w: Writer) -> None:
    if w.chance(0.5):
        w.line("Security notified that pt's car (plate {p}) remains in the ED lot.", p=phi(w.patient.plate, "VEHICLE"))
    else:
        w.line("Vehicle left at valet, VIN {v}; keys with security.", v=phi(w.patient.vin, "VEHICLE"))


def _license(w: Writer) -> None:
    w.line("Driver's license {d} placed in valuables envelope.", d=phi(w.patient.driver_license, "LICENSE"))


def _network(w: Writer) -> None:
    w.line("Telemetry box paired with central monitor at {ip}.", ip=phi(w.ids.ip_address(), "IP"))


def _registration(w: Writer) -> None:
    if w.chance(0.5):
        w.line("SSN {s} confirmed with registration.", s=phi(w.patient.ssn, "SSN"))
    else:
        w.line("Insurance card ({p}, member ID {m}) copied for registration.", p=w.patient.payer,
               m=phi(w.patient.plan_id, "HEALTH_PLAN"))


_EXTRAS: tuple[Callable[[Writer], None], ...] = (_relative, _device, _vehicle, _license, _network, _registration)


def _soap(w: Writer) -> None:
    w.section("S:")
    negs = [w.symptom(s, short=0.5, negated=True) for s in pertinent_negatives(w, 2)]
    status = w.pick(("improved", "unchanged", "slightly improved", "better today"))
    w.line("Pt {n} reports {s} {c}. Denies {x}.", n=w.pt(("initials", "first", "initials")),
           s=w.symptom(w.pres.symptoms[0], short=0.5), c=status, x=join(negs))
    w.section("O:")
    w.say("VS: ")
    vital_signs(w, header=None)
    for system, finding in exam_lines(w)[1:5:2]:
        w.line(f"{system}: " + "{f}.", f=finding)
    w.line("IV site clean, dry and intact.")


def _abbreviated(w: Writer) -> None:
    w.section("HPI:")
    w.line("{a} y/o {s} admitted {d} with {p}. c/o {x}.", a=w.age(), s=w.sex_abbr if w.chance(0.6) else w.man,
           d=w.date(w.enc.start, ("md", "us_short")), p=w.problem(w.pres.problem, short=0.7),
           x=w.symptom(w.pres.symptoms[0], short=0.7))
    w.section("PMH:")
    w.line("{x}", x=join([w.problem(p, short=0.9) for p in w.profile.chronic], sep=", "))
    w.section("Meds:")
    for name in [*w.profile.meds[:3], *w.pres.drugs[:1]]:
        w.line("- {d}", d=w.drug(name))


def nursing_note(w: Writer) -> str:
    """Write a nursing note (SOAP or abbreviated headers) and return its title."""
    title = w.pick(("Nursing Note", "RN Shift Note", "Nursing Progress Note"))
    w.line(title.upper())
    w.line("{h}, {u}", h=phi(w.enc.facility, "HOSPITAL"), u=w.pick(_UNITS))
    w.line("Patient: {n}   MRN: {m}", n=w.pt(("full", "inverted", "caps")), m=phi(w.patient.mrn, "MRN"))
    w.line("Date: {d} {t}", d=w.date(w.day, ("us", "us_short", "iso")), t=w.pick(("07:15", "11:40", "19:30", "23:05")))
    if w.chance(0.5):
        _soap(w)
    else:
        _abbreviated(w)
    w.section("A/P:")
    w.line("{p}: continue {d} as ordered.", p=capitalize(w.problem(w.pres.problem, short=0.6)),
           d=w.drug(w.pres.drugs[0], dose=False))
    for extra in w.sample(_EXTRAS, 2):
        extra(w)
    w.line(w.pick(("Will notify MD if {s} develops.", "Instructed pt to call RN if {s} occurs.")),
           s=w.symptom(w.pick(w.pres.warnings), short=0.5, hypothetical=True))
    w.line("{n}", n=w.signed(w.enc.nurse, ("full", "initials")))
    return title
