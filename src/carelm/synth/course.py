"""Section writers for the hospital course, assessment and plan, discharge medications and follow-up."""

from __future__ import annotations

from datetime import timedelta

from .builder import capitalize, join, phi
from .orders import CHRONIC_DRUGS, DRUGS
from .places import CLINICS, DOMAINS, STREET_TYPES, STREETS
from .writer import Writer

_SERVICES = ("Cardiology", "Infectious Disease", "Nephrology", "General Surgery", "Gastroenterology", "Pulmonology")


def hospital_course(w: Writer) -> None:
    """HOSPITAL COURSE: admission, treatment, ruled-out and still-possible diagnoses, procedure, consult."""
    w.section("HOSPITAL COURSE:")
    p, he = w.pres, w.he.capitalize()
    w.say(w.pick(("{mr} was admitted to the medicine service for {p}. ", "The patient was admitted to {h} with {p}. ",
                  "{He} was admitted for management of {p}. ")),
          mr=w.mr(), p=w.problem(p.problem), h=phi(w.enc.facility, "HOSPITAL"), He=he)
    w.say(w.pick(("{He} was started on {d} with improvement in {s}. ", "Treatment included {d}. ")),
          He=he, d=w.drug(p.drugs[0]), s=w.symptom(p.symptoms[0]))
    if p.differential:
        w.say(w.pick(("Given concern for possible {u}, further workup was obtained and was negative for {n}. ",
                      "{U} was suspected on admission; workup showed no evidence of {n}. ")),
              u=w.problem(p.differential[0], uncertain=True), n=w.problem(p.differential[0], negated=True),
              U=capitalize(w.problem(p.differential[0], uncertain=True)))
    if len(p.differential) > 1:
        w.say("{u} remains possible and should be reassessed as an outpatient. ",
              u=capitalize(w.problem(p.differential[1], uncertain=True)))
    if p.procedure:
        w.say("On {d}, {he} underwent {x} without complications. ", d=w.date(w.enc.start + timedelta(days=1)),
              he=w.he, x=w.procedure(p.procedure, short=0.4))
    if w.chance(0.5):
        w.say("{s} ({d}) was consulted. ", s=w.pick(_SERVICES), d=w.doctor(w.enc.radiologist))
    w.line(w.pick(("By the day of discharge {he} was afebrile and ambulating independently.",
                   "{His} symptoms improved steadily and {he} was discharged in stable condition.")),
           he=w.he, His=w.his.capitalize())


def _problem_lines(w: Writer) -> list[list]:
    p = w.pres
    lines = [["# ", capitalize(w.problem(p.problem, short=0.5)), ": ", w.pick(("improving", "stable", "ongoing")),
              ". Continue ", w.drug(p.drugs[0]), "."]]
    if p.differential:
        cue = w.pick((("Possible ", ""), ("Cannot rule out ", ""), ("Questionable ", "")))
        lines.append(["# ", cue[0], w.problem(p.differential[0], short=0.6, uncertain=True),
                      ": follow up workup and reassess."])
    for chronic in w.comorbid[: w.rng.randint(1, 2)]:
        meds = [m for m in w.profile.meds if chronic in _drug_problems(m)]
        tail = [" Continue ", w.drug(meds[0], dose=False), "."] if meds else [" Monitor."]
        lines.append(["# ", capitalize(w.problem(chronic, short=0.6)), ": stable.", *tail])
    return lines


def _drug_problems(drug: str) -> set[str]:
    return {problem for problem, groups in CHRONIC_DRUGS.items() if any(drug in group for group in groups)}


def assessment_plan(w: Writer) -> None:
    """ASSESSMENT AND PLAN (or ASSESSMENT: and PLAN:) with problem-oriented lines and a contingency."""
    split = w.chance(0.35)
    w.section("ASSESSMENT:" if split else w.pick(("ASSESSMENT AND PLAN:", "ASSESSMENT AND PLAN:", "A/P:")))
    w.line("{a}-year-old {m} with {p} seen for {x}.", a=w.age(), m=w.man, x=w.problem(w.pres.problem),
           p=w.history_phrase(1))
    if split:
        w.section("PLAN:")
    for parts in _problem_lines(w):
        w.line("{x}", x=parts)
    warn = w.symptom(w.pick(w.pres.warnings), hypothetical=True)
    w.line(w.pick(("If {s} worsens, will escalate care.", "Should {s} develop, will reassess promptly.",
                   "Patient instructed to call if {s} develops.")), s=warn)


def discharge_medications(w: Writer) -> None:
    """DISCHARGE MEDICATIONS: home medications plus new oral treatments."""
    w.section("DISCHARGE MEDICATIONS:")
    new = [d for d in w.pres.drugs if DRUGS[d].route != "IV" and d != "heparin" and d not in w.profile.meds]
    listed = [*w.profile.meds, *new]
    if w.profile.meds and w.chance(0.6):
        w.line(w.pick(("Resume all home medications.", "Continue home medications as previously prescribed.")))
        listed = new
    for i, name in enumerate(listed, 1):
        w.line("{i}. {d}{n}", i=str(i), d=w.drug(name), n=" (new)" if name in new else "")


def discharge_instructions(w: Writer) -> None:
    """DISCHARGE INSTRUCTIONS: hypothetical warning symptoms and a portal link or e-mail."""
    w.section("DISCHARGE INSTRUCTIONS:")
    warn = [w.symptom(s, hypothetical=True) for s in w.sample(w.pres.warnings, w.rng.randint(1, 2))]
    w.say(w.pick(("Return to the emergency department if you develop {x}. ", "Call your doctor if {x} develops. ",
                  "Seek immediate medical attention for {x}. ")), x=join(warn, "or"))
    domain = DOMAINS.get(w.enc.facility, "myhealthportal.org")
    if w.chance(0.6):
        url = f"https://myhealth.{domain}/visit/{w.enc.account[-6:]}"
        w.say("Your results are available at {u}. ", u=phi(url, "URL"))
    else:
        w.say("A copy of these instructions was sent to {e}. ", e=phi(w.patient.email, "EMAIL"))
    w.line("Resume activity as tolerated.")


def follow_up(w: Writer) -> None:
    """FOLLOW-UP: appointment with the primary care clinician, clinic address, phone and fax."""
    w.section("FOLLOW-UP:")
    pat, clinic = w.patient, w.pick(CLINICS)
    when = w.date(w.enc.end + timedelta(days=w.rng.randint(5, 14)))
    w.line("Follow up with {d} at {c} on {t} at {h}.", d=w.doctor(pat.pcp), c=phi(clinic, "HOSPITAL"), t=when,
           h=w.pick(("9:15 AM", "10:30 AM", "1:45 PM", "3:00 PM")))
    street = f"{w.rng.randint(100, 4800)} {w.pick(STREETS)} {w.pick(STREET_TYPES)}"
    if w.chance(0.45):
        w.line("{a}, {c}, {s} {z}. Phone {p}, fax {f}.", a=phi(street, "ADDRESS"), c=phi(pat.city, "CITY"),
               s=phi(pat.state, "STATE"), z=phi(pat.zip[:3] + w.ids.digits(2), "ZIP"), p=w.phone(w.ids.phone()),
               f=w.phone(w.ids.phone(), "FAX"))
    if w.chance(0.5):
        w.line("Repeat {t} in one week.", t=w.test(w.pick(("BMP", "CBC", "INR", "creatinine"))))
