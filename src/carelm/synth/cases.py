"""Per-patient plan: identity, clinical profile, encounters and which notes each encounter produces."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from .identity import Clinician, IdentityFactory, Patient
from .orders import CHRONIC_DRUGS, FEMALE_ONLY_PROCEDURES, LABS, PAST_SURGERIES
from .places import CLINICS, HOSPITALS, WORKPLACES
from .presentations import CLINIC, INPATIENT, Presentation
from .vocab import ALLERGENS, CHRONIC_PROBLEMS, FAMILY_PROBLEMS, PAST_EVENTS, RELATIVES

FIRST_DAY = date(2018, 1, 1)
ROUTINE_LABS = ("WBC", "hemoglobin", "platelets", "sodium", "potassium", "creatinine", "glucose")


@dataclass
class Staff:
    """Clinicians shared by all patients of one generated corpus."""

    attendings: list[Clinician]
    pcps: list[Clinician]
    radiologists: list[Clinician]
    nurses: list[Clinician]


@dataclass
class Profile:
    """A patient's longitudinal history."""

    chronic: list[str]
    events: list[tuple[str, int]]
    surgeries: list[tuple[str, int]]
    meds: list[str]
    allergies: list[tuple[str, str]]
    family: list[tuple[str, str, int | None]]
    family_negative: str
    smoking: tuple[str, int, int]
    alcohol: int
    job: tuple[str, str]


@dataclass
class Encounter:
    """One hospital stay or clinic visit."""

    eid: str
    inpatient: bool
    start: date
    end: date
    facility: str
    attending: Clinician
    radiologist: Clinician
    nurse: Clinician
    presentation: Presentation
    labs: dict[str, str]
    account: str
    onset_days: int
    notes: list[tuple[str, date]] = field(default_factory=list)


@dataclass
class Case:
    """A patient with profile and encounters."""

    patient: Patient
    profile: Profile
    encounters: list[Encounter]


def make_staff(ids: IdentityFactory) -> Staff:
    """Draw the clinician pool."""
    return Staff(
        attendings=[ids.clinician(ids.rng.choice(("MD", "MD", "DO"))) for _ in range(8)],
        pcps=[ids.clinician(ids.rng.choice(("MD", "NP", "PA"))) for _ in range(6)],
        radiologists=[ids.clinician("MD") for _ in range(4)],
        nurses=[ids.clinician("RN") for _ in range(8)],
    )


def age_on(birth: date, day: date) -> int:
    """Whole years between ``birth`` and ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def plan_case(index: int, n_notes: int, ids: IdentityFactory, staff: Staff) -> Case:
    """Plan one patient with ``n_notes`` notes spread over one or more encounters."""
    rng = ids.rng
    first = FIRST_DAY + timedelta(days=rng.randint(0, 6 * 365))
    age = rng.randint(90, 101) if rng.random() < 0.1 else rng.randint(19, 88)
    birth = date(first.year - age - 1, 1, 1) + timedelta(days=rng.randint(0, 364))
    sex = rng.choice(("female", "male"))
    patient = ids.patient(index, sex, birth, rng.choice(staff.pcps))
    profile = _profile(rng, sex, birth, first)
    encounters, day, remaining = [], first, n_notes
    while remaining:
        size = min(remaining, rng.choice((1, 2, 3, 4, 4, 4)))
        enc = _encounter(rng, ids, staff, f"{patient.pid}-E{len(encounters) + 1}", day, size)
        encounters.append(enc)
        remaining -= size
        day = enc.end + timedelta(days=rng.randint(20, 400))
    return Case(patient, profile, encounters)


def _profile(rng: random.Random, sex: str, birth: date, first: date) -> Profile:
    adult, last = birth.year + 18, first.year - 1

    def year() -> int:
        return rng.randint(min(adult, last), last)

    chronic = rng.sample(CHRONIC_PROBLEMS, rng.randint(1, 4))
    surgeries = [s for s in rng.sample(PAST_SURGERIES, rng.randint(0, 3)) if sex == "female" or
                 s not in FEMALE_ONLY_PROCEDURES]
    meds = [rng.choice(group) for p in chronic for i, group in enumerate(CHRONIC_DRUGS.get(p, ()))
            if i == 0 or rng.random() < 0.4]
    family = []
    for relation, _sex in rng.sample(RELATIVES, rng.randint(1, 3)):
        problem = rng.choice([p for p in FAMILY_PROBLEMS if _sex == "male" or p != "prostate cancer"])
        family.append((relation, problem, rng.randint(52, 97) if rng.random() < 0.4 else None))
    return Profile(
        chronic=chronic, events=[(e, year()) for e in rng.sample(PAST_EVENTS, rng.randint(0, 2))],
        surgeries=[(s, year()) for s in surgeries], meds=list(dict.fromkeys(meds)),
        allergies=rng.sample(ALLERGENS, rng.choice((0, 0, 1, 1, 2))), family=family,
        family_negative=rng.choice([p for p in FAMILY_PROBLEMS if p not in {f[1] for f in family}]),
        smoking=(rng.choice(("never", "former", "current")), year(), rng.randint(5, 60)),
        alcohol=rng.choice((0, 0, 1, 2, 4, 7, 14)), job=rng.choice(WORKPLACES),
    )


def _encounter(rng: random.Random, ids: IdentityFactory, staff: Staff, eid: str, start: date, size: int) -> Encounter:
    inpatient = size >= 3 or rng.random() < (0.5 if size == 2 else 0.2)
    presentation = rng.choice(INPATIENT if inpatient else CLINIC)
    stay = rng.randint(2, 7) if inpatient else 0
    enc = Encounter(
        eid=eid, inpatient=inpatient, start=start, end=start + timedelta(days=stay),
        facility=rng.choice(HOSPITALS if inpatient else CLINICS), attending=rng.choice(staff.attendings),
        radiologist=rng.choice(staff.radiologists), nurse=rng.choice(staff.nurses), presentation=presentation,
        labs=_labs(rng, presentation), account=ids.digits(10), onset_days=rng.randint(1, 6),
    )
    if inpatient:
        pool = ("progress_note", "nursing_note", "nursing_note", "radiology_report", "radiology_report")
        kinds = [rng.choice(pool) for _ in range(size - 1)]
        enc.notes = sorted(((k, start + timedelta(days=_note_day(rng, k, stay))) for k in kinds), key=lambda n: n[1])
        enc.notes.append(("discharge_summary", enc.end))
    else:
        enc.notes = [("progress_note", start), ("radiology_report", start)][:size]
    return enc


def _note_day(rng: random.Random, kind: str, stay: int) -> int:
    if kind == "radiology_report":
        return rng.randint(0, 1)
    return rng.randint(1, stay - 1) if kind == "progress_note" else rng.randint(0, stay - 1)


def _labs(rng: random.Random, presentation: Presentation) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in (*presentation.labs, *ROUTINE_LABS):
        lab = LABS[name]
        low, high = presentation.labs.get(name, (lab.low, lab.high))
        value = rng.uniform(low, high)
        values.setdefault(name, f"{value:.{lab.decimals}f}" if value >= 0.01 else "<0.01")
    return values
