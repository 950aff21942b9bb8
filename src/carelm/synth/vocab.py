"""Clinical vocabulary for the synthetic generator: problems, symptoms, allergens and abbreviations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """A diagnosis or finding, optionally with an ICD-10-CM code and a common abbreviation."""

    name: str
    icd10: str | None = None
    abbr: str | None = None


@dataclass(frozen=True)
class Symptom:
    """A patient-reported symptom or exam finding."""

    name: str
    abbr: str | None = None


_PROBLEMS: tuple[tuple[str, str | None, str | None], ...] = (
    ("hypertension", "I10", "HTN"),
    ("type 2 diabetes mellitus", "E11.9", "DM2"),
    ("type 1 diabetes mellitus", "E10.9", "DM1"),
    ("hyperlipidemia", "E78.5", "HLD"),
    ("congestive heart failure", "I50.9", "CHF"),
    ("atrial fibrillation", "I48.91", "AFib"),
    ("coronary artery disease", "I25.10", "CAD"),
    ("myocardial infarction", "I21.9", "MI"),
    ("pneumonia", "J18.9", None),
    ("chronic obstructive pulmonary disease", "J44.9", "COPD"),
    ("asthma", "J45.909", None),
    ("chronic kidney disease", "N18.9", "CKD"),
    ("acute kidney injury", "N17.9", "AKI"),
    ("urinary tract infection", "N39.0", "UTI"),
    ("gastroesophageal reflux disease", "K21.9", "GERD"),
    ("hypothyroidism", "E03.9", None),
    ("major depressive disorder", "F32.9", "MDD"),
    ("generalized anxiety disorder", "F41.1", "GAD"),
    ("osteoarthritis", "M19.90", "OA"),
    ("obesity", "E66.9", None),
    ("anemia", "D64.9", None),
    ("iron deficiency anemia", "D50.9", None),
    ("deep vein thrombosis", "I82.409", "DVT"),
    ("pulmonary embolism", "I26.99", "PE"),
    ("stroke", "I63.9", "CVA"),
    ("transient ischemic attack", "G45.9", "TIA"),
    ("sepsis", "A41.9", None),
    ("cellulitis", "L03.90", None),
    ("migraine", "G43.909", None),
    ("epilepsy", "G40.909", None),
    ("gout", "M10.9", None),
    ("obstructive sleep apnea", "G47.33", "OSA"),
    ("benign prostatic hyperplasia", "N40.0", "BPH"),
    ("osteoporosis", "M81.0", None),
    ("cirrhosis", "K74.60", None),
    ("acute pancreatitis", "K85.90", None),
    ("acute appendicitis", "K35.80", None),
    ("cholecystitis", "K81.9", None),
    ("diverticulitis", "K57.92", None),
    ("small bowel obstruction", "K56.609", "SBO"),
    ("gastrointestinal hemorrhage", "K92.2", "GI bleed"),
    ("hypokalemia", "E87.6", None),
    ("hyponatremia", "E87.1", None),
    ("dehydration", "E86.0", None),
    ("breast cancer", "C50.919", None),
    ("colon cancer", "C18.9", None),
    ("lung cancer", "C34.90", None),
    ("prostate cancer", "C61", None),
    ("Alzheimer disease", "G30.9", None),
    ("rheumatoid arthritis", "M06.9", None),
    ("peripheral artery disease", "I73.9", "PAD"),
    ("influenza", "J11.1", None),
    ("COVID-19", "U07.1", None),
    ("pleural effusion", "J90", None),
    ("pneumothorax", "J93.9", None),
    ("atelectasis", "J98.11", None),
    ("cardiomegaly", "I51.7", None),
    ("nephrolithiasis", "N20.0", None),
    ("pulmonary edema", "J81.0", None),
    ("consolidation", None, None),
    ("hydronephrosis", "N13.30", None),
    ("intracranial hemorrhage", "I62.9", None),
    ("gallstones", "K80.20", None),
    ("pericardial effusion", None, None),
)

PROBLEMS: dict[str, Problem] = {name: Problem(name, code, abbr) for name, code, abbr in _PROBLEMS}

CHRONIC_PROBLEMS: tuple[str, ...] = (
    "hypertension", "type 2 diabetes mellitus", "hyperlipidemia", "congestive heart failure",
    "atrial fibrillation", "coronary artery disease", "chronic obstructive pulmonary disease", "asthma",
    "chronic kidney disease", "gastroesophageal reflux disease", "hypothyroidism", "major depressive disorder",
    "generalized anxiety disorder", "osteoarthritis", "obesity", "iron deficiency anemia", "gout",
    "obstructive sleep apnea", "osteoporosis", "migraine", "epilepsy", "rheumatoid arthritis",
    "peripheral artery disease", "type 1 diabetes mellitus",
)

MALE_ONLY = frozenset({"benign prostatic hyperplasia", "prostate cancer"})

PAST_EVENTS: tuple[str, ...] = (
    "myocardial infarction", "stroke", "pulmonary embolism", "deep vein thrombosis", "pneumonia",
    "transient ischemic attack", "acute pancreatitis", "nephrolithiasis", "cellulitis", "gastrointestinal hemorrhage",
)

FAMILY_PROBLEMS: tuple[str, ...] = (
    "breast cancer", "colon cancer", "lung cancer", "prostate cancer", "coronary artery disease",
    "myocardial infarction", "type 2 diabetes mellitus", "hypertension", "stroke", "Alzheimer disease",
)

RELATIVES: tuple[tuple[str, str], ...] = (
    ("mother", "female"), ("father", "male"), ("sister", "female"), ("brother", "male"),
    ("maternal grandmother", "female"), ("paternal grandfather", "male"), ("maternal aunt", "female"),
    ("paternal uncle", "male"),
)

_SYMPTOMS: tuple[tuple[str, str | None], ...] = (
    ("fever", None), ("chills", None), ("night sweats", None), ("weight loss", None), ("fatigue", None),
    ("chest pain", "CP"), ("palpitations", None), ("leg swelling", None), ("orthopnea", None),
    ("cough", None), ("shortness of breath", "SOB"), ("wheezing", None), ("hemoptysis", None),
    ("nausea", None), ("vomiting", None), ("diarrhea", None), ("constipation", None),
    ("abdominal pain", None), ("melena", None), ("dysuria", None), ("hematuria", None),
    ("headache", None), ("dizziness", None), ("numbness", None), ("weakness", None), ("syncope", None),
    ("confusion", None), ("back pain", None), ("joint pain", None), ("rash", None), ("diaphoresis", None),
    ("sore throat", None), ("blurred vision", None), ("loss of appetite", None),
    ("dyspnea on exertion", "DOE"), ("lower extremity edema", "LE edema"), ("flank pain", None),
    ("urinary frequency", None), ("slurred speech", None),
)

SYMPTOMS: dict[str, Symptom] = {name: Symptom(name, abbr) for name, abbr in _SYMPTOMS}

RELATED_SYMPTOMS: tuple[tuple[str, ...], ...] = (
    ("leg swelling", "lower extremity edema"), ("shortness of breath", "dyspnea on exertion", "orthopnea", "wheezing"),
    ("nausea", "vomiting", "loss of appetite"), ("fever", "chills", "night sweats", "diaphoresis"),
    ("weakness", "numbness", "slurred speech", "confusion"), ("abdominal pain", "flank pain", "back pain"),
    ("dizziness", "syncope", "palpitations"), ("dysuria", "urinary frequency", "hematuria"),
)

ROS_SYSTEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Constitutional", ("fever", "chills", "night sweats", "weight loss", "fatigue")),
    ("Cardiovascular", ("chest pain", "palpitations", "leg swelling", "orthopnea")),
    ("Respiratory", ("cough", "shortness of breath", "wheezing", "hemoptysis")),
    ("Gastrointestinal", ("nausea", "vomiting", "diarrhea", "abdominal pain", "melena")),
    ("Genitourinary", ("dysuria", "hematuria", "urinary frequency")),
    ("Neurological", ("headache", "dizziness", "numbness", "weakness", "syncope")),
    ("Musculoskeletal", ("back pain", "joint pain")),
    ("Skin", ("rash",)),
)

ALLERGENS: tuple[tuple[str, str], ...] = (
    ("penicillin", "hives"), ("sulfa drugs", "rash"), ("codeine", "nausea"), ("shellfish", "throat swelling"),
    ("latex", "contact dermatitis"), ("peanuts", "anaphylaxis"), ("iodinated contrast", "hives"),
    ("morphine", "itching"), ("amoxicillin", "rash"), ("lisinopril", "angioedema"), ("aspirin", "GI upset"),
    ("bee stings", "swelling"),
)

_EXTRA_ABBREVIATIONS: dict[str, str] = {
    "PMH": "past medical history", "HPI": "history of present illness", "ROS": "review of systems",
    "PSH": "past surgical history", "NKDA": "no known drug allergies", "s/p": "status post",
    "h/o": "history of", "c/o": "complains of", "r/o": "rule out", "y/o": "year-old", "pt": "patient",
    "PO": "by mouth", "IV": "intravenous", "SC": "subcutaneous", "BID": "twice daily", "TID": "three times daily",
    "QID": "four times daily", "PRN": "as needed", "qHS": "at bedtime", "NC": "nasal cannula", "RA": "room air",
    "WNL": "within normal limits", "NAD": "no acute distress", "RRR": "regular rate and rhythm",
    "CTAB": "clear to auscultation bilaterally", "CXR": "chest x-ray", "EKG": "electrocardiogram",
    "ECG": "electrocardiogram", "CBC": "complete blood count", "BMP": "basic metabolic panel",
    "CMP": "comprehensive metabolic panel", "UA": "urinalysis", "BNP": "B-type natriuretic peptide",
    "ED": "emergency department", "ICU": "intensive care unit", "VS": "vital signs", "N/V": "nausea and vomiting",
    "MD": "physician", "RN": "registered nurse", "f/u": "follow-up", "w/": "with", "abx": "antibiotics",
}


def _build_abbreviations() -> dict[str, str]:
    """Collect abbreviation -> expansion pairs from the problem and symptom tables plus common shorthand."""
    table = {p.abbr: p.name for p in PROBLEMS.values() if p.abbr}
    table.update({s.abbr: s.name for s in SYMPTOMS.values() if s.abbr})
    table.update(_EXTRA_ABBREVIATIONS)
    return table


ABBREVIATIONS: dict[str, str] = _build_abbreviations()
