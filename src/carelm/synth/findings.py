"""Section writers for objective data: review of systems, vital signs, physical exam, labs and imaging."""

from __future__ import annotations

from .builder import Piece, capitalize, join
from .history import pertinent_negatives
from .identity import PARTIAL_STYLES
from .orders import LABS, STUDIES
from .vocab import ROS_SYSTEMS
from .writer import Writer

FINDING_PREFIX: dict[str, tuple[str, ...]] = {
    "consolidation": ("right lower lobe ", "left lower lobe ", "patchy right middle lobe "),
    "pleural effusion": ("small bilateral ", "small left ", "moderate right "),
    "pulmonary edema": ("mild interstitial ", "moderate "),
    "cardiomegaly": ("mild ", ""),
    "small bowel obstruction": ("high-grade ", "partial "),
    "hydronephrosis": ("mild right ", "mild left "),
    "nephrolithiasis": ("a 4 mm obstructing left ureteral stone with ", "a 6 mm right renal stone consistent with "),
    "gallstones": ("multiple ", "a 1.2 cm stone among "),
}

_PANELS: dict[str, str] = {
    "urinary tract infection": "Urinalysis with large leukocyte esterase and positive nitrites.",
    "pneumonia": "Blood cultures pending.",
    "myocardial infarction": "ECG with ST elevations in leads II, III and aVF.",
    "atrial fibrillation": "ECG with atrial fibrillation at a rate of 132.",
    "sepsis": "Blood cultures x2 drawn.",
}


def review_of_systems(w: Writer) -> None:
    """REVIEW OF SYSTEMS: positives from the presentation, negated symptoms elsewhere."""
    w.section("REVIEW OF SYSTEMS:")
    if w.chance(0.4):
        pos = [w.symptom(s) for s in w.pres.symptoms[:2]]
        neg = [w.symptom(s, negated=True) for s in pertinent_negatives(w, 4)]
        w.line("Positive for {p}. Negative for {n}. All other systems reviewed and negative.", p=join(pos), n=join(neg))
        return
    for system, symptoms in w.sample(ROS_SYSTEMS, 3):
        present = [w.symptom(s) for s in symptoms if s in w.pres.symptoms]
        absent = [w.symptom(s, negated=True) for s in symptoms if s not in w.pres.symptoms][:2]
        w.say(f"{system}: ")
        if present:
            w.say("positive for {p}", p=join(present))
            w.say("; negative for {n}" if absent else "", n=join(absent))
        else:
            w.say(w.pick(("negative for {n}", "denies {o}", "no {o}")), n=join(absent), o=join(absent, "or"))
        w.line(".")


def vital_signs(w: Writer, header: str | None = "VITAL SIGNS:") -> None:
    """VITAL SIGNS: temperature, pulse, blood pressure, respiratory rate and oxygen saturation (not PHI)."""
    if header:
        w.section(header)
    sick = w.day == w.enc.start
    temp = w.rng.uniform(38.1, 39.2) if sick and "fever" in w.pres.symptoms else w.rng.uniform(36.4, 37.4)
    pulse = w.rng.randint(96, 124) if sick else w.rng.randint(62, 94)
    bp, rr, sat = f"{w.rng.randint(104, 168)}/{w.rng.randint(58, 96)}", w.rng.randint(14, 24), w.rng.randint(89, 99)
    o2 = w.pick(("room air", "RA", "2L NC", "3L nasal cannula"))
    form = w.pick((
        f"T {temp:.1f} C, HR {pulse}, BP {bp}, RR {rr}, SpO2 {sat}% on {o2}.",
        f"Temp {temp * 9 / 5 + 32:.1f} F | Pulse {pulse} | BP {bp} | Resp {rr} | O2 sat {sat}% {o2}",
        f"BP {bp}, P {pulse}, T {temp:.1f}, RR {rr}, sat {sat}% on {o2}. Weight {w.rng.uniform(48, 128):.1f} kg.",
    ))
    w.line(form)


def exam_lines(w: Writer) -> list[tuple[str, Piece]]:
    """Organ-system exam findings consistent with the presentation."""
    syms = w.pres.symptoms
    lungs: Piece = ["diffuse expiratory ", w.symptom("wheezing")] if "wheezing" in syms else [
        w.pick(("clear to auscultation bilaterally, no ", "crackles at the right base, no ")),
        w.symptom("wheezing", negated=True)]
    afib = w.pres.problem == "atrial fibrillation"
    heart = "irregularly irregular" if afib else "regular rate and rhythm, no murmurs"
    tender = ("tender in the right lower quadrant", "epigastric tenderness", "right upper quadrant tenderness")
    abdomen = w.pick(tender) if "abdominal pain" in syms else "soft, nontender, nondistended"
    legs: Piece = ["2+ pitting ", w.symptom("lower extremity edema", short=0.3)] if "leg swelling" in syms else [
        "no ", w.symptom("lower extremity edema", short=0.3, negated=True)]
    neuro: Piece = ["left-sided ", w.symptom("weakness")] if "weakness" in syms else "alert and oriented x3"
    return [("General", w.pick(("alert, in no acute distress", "ill-appearing but nontoxic", "NAD"))),
            ("Lungs", lungs), ("CV", heart), ("Abdomen", abdomen), ("Extremities", legs), ("Neuro", neuro)]


def physical_exam(w: Writer) -> None:
    """PHYSICAL EXAM: one line per organ system."""
    w.section("PHYSICAL EXAM:")
    for system, finding in exam_lines(w):
        w.line(f"{system}: " + "{f}.", f=finding)


def lab_results(w: Writer, k: int = 6) -> list[Piece]:
    """Up to ``k`` lab results (abnormal ones first) as ``name value unit`` pieces."""
    names = list(w.enc.labs)[:k]
    out: list[Piece] = []
    for name in names:
        unit = LABS[name].unit
        out.append([w.test(name), f" {w.enc.labs[name]}" + (f" {unit}" if unit and w.chance(0.5) else "")])
    return out


def labs(w: Writer) -> None:
    """LABS: values for this encounter, sometimes dated, plus a panel remark."""
    w.section("LABS:")
    if w.chance(0.4):
        w.say("On {d}: ", d=w.date(w.enc.start, ("md", "us", "abbr_ord")))
    w.line("{x}.", x=join(lab_results(w, w.rng.randint(3, 4)), sep=", "))
    if w.pres.problem in _PANELS:
        w.line(_PANELS[w.pres.problem])


def study_result(w: Writer) -> list[Piece]:
    """One sentence summarising the encounter's imaging study, with positive and negated findings."""
    study = STUDIES[w.pres.study]
    positives = [[w.pick(FINDING_PREFIX.get(f, ("",))), w.problem(f, short=0.0)] for f in w.pres.findings]
    negatives = [w.problem(f, short=0.0, negated=True) for f in study.negatives if f not in w.pres.findings][:2]
    when = w.date(w.enc.start, PARTIAL_STYLES)
    if positives:
        return [capitalize(w.test(study.mention)), " on ", when, " showed ", *join(positives),
                *([", without "] + join(negatives, "or") if negatives else []), "."]
    return [capitalize(w.test(study.mention)), " on ", when, " was unremarkable, with no ", *join(negatives, "or"), "."]


def imaging(w: Writer) -> None:
    """IMAGING: result of the encounter's study."""
    w.section("IMAGING:")
    w.line("{x}", x=study_result(w))
