"""Section writers for the history part of a note: complaint, HPI, past history, medications and social context."""

from __future__ import annotations

from datetime import timedelta

from .builder import capitalize, join, phi
from .identity import PARTIAL_STYLES
from .places import OUTINGS, STATES
from .vocab import RELATED_SYMPTOMS, SYMPTOMS
from .writer import Writer

_OTHER_SYMPTOMS = tuple(SYMPTOMS)


def pertinent_negatives(w: Writer, k: int) -> list[str]:
    """Symptoms the patient does not have (nor anything closely related), for negated statements."""
    related = {r for group in RELATED_SYMPTOMS if set(group) & set(w.pres.symptoms) for r in group}
    return w.sample([s for s in _OTHER_SYMPTOMS if s not in w.pres.symptoms and s not in related], k)


def days(n: int) -> str:
    """``1 day``, ``3 days``."""
    return f"{n} day" if n == 1 else f"{n} days"


def chief_complaint(w: Writer) -> None:
    """CHIEF COMPLAINT: one or two presenting symptoms."""
    w.section("CHIEF COMPLAINT:")
    syms = [w.symptom(s, short=0.4) for s in w.sample(w.pres.symptoms, w.pick((1, 1, 2)))]
    form = w.pick(("{s}.", "{s} x {n}.", "{s} for {n}."))
    w.line(form, s=capitalize(join(syms)), n=days(w.enc.onset_days))


def _hpi_opener(w: Writer) -> None:
    syms = join([w.symptom(s, short=0.3) for s in w.pres.symptoms[: w.rng.randint(2, 3)]])
    opener = w.pick((
        "{mr} is a {age}-year-old {man} with {pmh} who presented to {h} with {n} of {s}.",
        "Patient is a {age} y/o {sex} with {pmh} who presents with {s}.",
        "{name} is a {age}-year-old {man} with {pmh} presenting with {s}.",
        "This is a {age}-year-old {man} with {pmh} who comes in for {s}.",
    ))
    w.say(opener, mr=w.mr(), h=phi(w.enc.facility, "HOSPITAL"), sex=w.sex_abbr if w.chance(0.5) else w.man,
          name=w.pt(("full", "upper_full")), age=w.age(), man=w.man, pmh=w.history_phrase(), s=syms,
          n=days(w.enc.onset_days))


def _hpi_onset(w: Writer) -> None:
    onset = w.enc.start - timedelta(days=w.enc.onset_days)
    w.say(w.pick((" Symptoms began on {d} and have gradually worsened.", " {He} first noticed them around {d}.",
                  " Per {his} {rel}, symptoms started on {d}.")),
          d=w.date(onset, PARTIAL_STYLES), He=w.he.capitalize(), his=w.his, rel=w.patient.contact.relation)
    if w.chance(0.3):
        workplace = w.profile.job[1] if w.years < 66 and w.chance(0.5) else w.pick(OUTINGS)
        w.say(" {He} was at {loc} when the symptoms started.", He=w.he.capitalize(), loc=phi(workplace, "LOCATION"))


def _negatives(w: Writer, k: int) -> None:
    negs = [w.symptom(s, short=0.3, negated=True) for s in pertinent_negatives(w, k)]
    w.say(w.pick((" {He} denies {x}.", " No {x}.", " Negative for {x}.", " {He} has not had any {x}.")),
          He=w.he.capitalize(), x=join(negs, "or"))


def hpi(w: Writer) -> None:
    """HISTORY OF PRESENT ILLNESS: opener, onset date, negatives, past events and initial differential."""
    w.section(w.pick(("HISTORY OF PRESENT ILLNESS:", "HISTORY OF PRESENT ILLNESS:", "HPI:")))
    _hpi_opener(w)
    _hpi_onset(w)
    _negatives(w, w.rng.randint(1, 3))
    for event, year in w.profile.events[: w.rng.randint(0, 1)]:
        w.say(w.pick((" Of note, {he} had {p} in {y}.", " History is notable for {p} in {y}.",
                      " Remote history of {p} ({y}).")),
              he=w.he, p=w.problem(event, short=0.5, historical=True), y=phi(str(year), "DATE"))
    if w.pres.differential and w.enc.inpatient:
        diff = w.problem(w.pres.differential[0], short=0.5, uncertain=True)
        w.say(w.pick((" In the emergency department there was concern for possible {d}.",
                      " The ED team felt that {d} could not be ruled out.", " Initial workup was to r/o {d}.")), d=diff)
    w.line()


def interval_history(w: Writer) -> None:
    """HISTORY OF PRESENT ILLNESS for a daily progress note: admission reason and today's status."""
    w.section(w.pick(("HISTORY OF PRESENT ILLNESS:", "HPI:")))
    w.say(w.pick(("{mr} is a {age}-year-old {man} admitted on {d} with {p}.", "{age} y/o {man} admitted {d} for {p}.")),
          mr=w.mr(), age=w.age(), man=w.man, d=w.date(w.enc.start, ("md", "abbr_ord", "us")),
          p=w.problem(w.pres.problem))
    w.say(w.pick((" Today {he} reports that {s} is improving.", " Overnight {his} {s} was unchanged.",
                  " This morning {he} notes less {s}.")), he=w.he, his=w.his, s=w.symptom(w.pres.symptoms[0]))
    _negatives(w, 2)
    w.line()


def past_medical(w: Writer, header: str = "PAST MEDICAL HISTORY:") -> None:
    """PAST MEDICAL HISTORY: chronic problems (current) and past events (historical, with a year)."""
    w.section(header)
    items = [[w.problem(p, short=0.4)] for p in w.profile.chronic]
    items += [[w.problem(e, short=0.4, historical=True), " (", phi(str(y), "DATE"), ")"]
              for e, y in w.profile.events]
    if w.chance(0.5) or header == "PMH:":
        w.line("{x}.", x=capitalize(join(items, sep=", ")))
        return
    form = w.pick(("{i}. {x}", "- {x}"))
    for i, item in enumerate(items, 1):
        w.line(form, i=str(i), x=capitalize(item))


def past_surgical(w: Writer) -> None:
    """PAST SURGICAL HISTORY: earlier procedures, all historical."""
    w.section("PAST SURGICAL HISTORY:")
    if not w.profile.surgeries:
        w.line(w.pick(("None.", "No prior surgeries.", "Denies prior surgery.")))
    for name, year in w.profile.surgeries:
        form = w.pick(("s/p {p} ({y})", "{P} in {y}", "{P}, {y}"))
        p = w.procedure(name, short=0.5, historical=True)
        w.line(form, p=p, P=capitalize(p), y=phi(str(year), "DATE"))


def medications(w: Writer, header: str = "MEDICATIONS:") -> None:
    """MEDICATIONS: home medications with dose, route and frequency."""
    w.section(header)
    if not w.profile.meds:
        w.line(w.pick(("None.", "No home medications.")))
    for i, name in enumerate(w.profile.meds, 1):
        w.line("{i}{d}", i=f"{i}. " if header == "MEDICATIONS:" else "- ", d=w.drug(name))


def allergies(w: Writer) -> None:
    """ALLERGIES: allergens with reactions, or no known drug allergies."""
    w.section("ALLERGIES:")
    if not w.profile.allergies:
        w.line(w.pick(("NKDA.", "No known drug allergies.", "No known allergies.")))
        return
    w.line("; ".join(f"{a.capitalize()} ({r})" for a, r in w.profile.allergies) + ".")


def family_history(w: Writer) -> None:
    """FAMILY HISTORY: relatives' problems (family=True), one negated."""
    w.section("FAMILY HISTORY:")
    for relation, problem, died_at in w.profile.family:
        p = w.problem(problem, short=0.3, family=True)
        if died_at:
            w.say("{R} died of {p} at age {a}. ", R=relation.capitalize(), p=p, a=w.older(died_at))
        else:
            w.say(w.pick(("{R} with {p}. ", "{R} has {p}. ", "{R} was diagnosed with {p}. ")),
                  R=relation.capitalize(), p=p)
    neg = w.problem(w.profile.family_negative, short=0.3, family=True, negated=True)
    w.line(w.pick(("No family history of {p}.", "Family history is negative for {p}.")), p=neg)


def social_history(w: Writer) -> None:
    """SOCIAL HISTORY: household, address or city, work place, tobacco and alcohol."""
    w.section("SOCIAL HISTORY:")
    pat, contact = w.patient, w.patient.contact
    state = pat.state if w.chance(0.6) else STATES[pat.state]
    if w.chance(0.5):
        w.say("Lives with {his} {rel}, {n}, in {c}, {s}. ", his=w.his, rel=contact.relation,
              n=w.name(contact.person, "relative", ("full", "first")), c=phi(pat.city, "CITY"), s=phi(state, "STATE"))
    else:
        w.say("Lives at {a}, {c}, {s} {z}. ", a=phi(pat.street, "ADDRESS"), c=phi(pat.city, "CITY"),
              s=phi(state, "STATE"), z=phi(pat.zip, "ZIP"))
    occupation, place = w.profile.job
    w.say("Retired {o}, formerly at {p}. " if w.years >= 66 else "Works as a {o} at {p}. ", o=occupation,
          p=phi(place, "LOCATION"))
    status, year, packs = w.profile.smoking
    smoking = {"never": "Never smoker. ", "current": f"Current smoker, {packs} pack-years. ",
               "former": "Former smoker, quit in {y}, " + f"{packs} pack-years. "}[status]
    w.say(smoking, y=phi(str(year), "DATE"))
    drinks = w.profile.alcohol
    w.line("Denies alcohol use." if not drinks else f"Drinks about {drinks} alcoholic drinks per week.")
