"""Reasons for an encounter: the presenting problem with its symptoms, work-up, findings and treatment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Presentation:
    """A clinical scenario that drives the content of every note in one encounter."""

    problem: str
    symptoms: tuple[str, ...]
    labs: dict[str, tuple[float, float]]
    study: str
    findings: tuple[str, ...]
    differential: tuple[str, ...]
    drugs: tuple[str, ...]
    procedure: str | None = None
    warnings: tuple[str, ...] = ("fever", "chest pain", "shortness of breath")
    inpatient: bool = True


INPATIENT: tuple[Presentation, ...] = (
    Presentation(
        "pneumonia", ("cough", "fever", "shortness of breath", "chills"),
        {"WBC": (13.1, 19.4), "procalcitonin": (0.5, 3.2), "lactate": (1.9, 3.1)},
        "cxr", ("consolidation",), ("pulmonary embolism", "influenza"), ("ceftriaxone", "azithromycin"),
    ),
    Presentation(
        "congestive heart failure", ("shortness of breath", "orthopnea", "leg swelling", "dyspnea on exertion"),
        {"BNP": (640, 2400), "creatinine": (1.2, 1.8)},
        "cxr", ("pulmonary edema", "pleural effusion", "cardiomegaly"), ("myocardial infarction", "pneumonia"),
        ("furosemide", "carvedilol"), warnings=("leg swelling", "shortness of breath", "chest pain"),
    ),
    Presentation(
        "chronic obstructive pulmonary disease", ("shortness of breath", "wheezing", "cough"),
        {"WBC": (10.8, 14.0)}, "cxr", (), ("pneumonia", "pulmonary embolism"),
        ("prednisone", "azithromycin", "albuterol"),
    ),
    Presentation(
        "urinary tract infection", ("dysuria", "urinary frequency", "fever", "flank pain"),
        {"WBC": (11.2, 16.3)}, "renal", (), ("nephrolithiasis", "sepsis"), ("ceftriaxone", "nitrofurantoin"),
        warnings=("fever", "flank pain", "vomiting"),
    ),
    Presentation(
        "cellulitis", ("leg swelling", "fever", "rash"), {"WBC": (11.0, 15.5)},
        "duplex", (), ("deep vein thrombosis",), ("vancomycin", "cephalexin"), warnings=("fever", "rash"),
    ),
    Presentation(
        "atrial fibrillation", ("palpitations", "dizziness", "shortness of breath"), {"troponin": (0.03, 0.06)},
        "echo", (), ("myocardial infarction", "pulmonary embolism"), ("metoprolol tartrate", "apixaban"),
        warnings=("palpitations", "syncope", "chest pain"),
    ),
    Presentation(
        "myocardial infarction", ("chest pain", "diaphoresis", "shortness of breath", "nausea"),
        {"troponin": (0.8, 6.5)}, "echo", (), ("pulmonary embolism",),
        ("aspirin", "clopidogrel", "atorvastatin", "heparin"), "percutaneous coronary intervention",
    ),
    Presentation(
        "acute kidney injury", ("fatigue", "nausea", "loss of appetite"),
        {"creatinine": (2.1, 3.8), "BUN": (35, 62), "potassium": (5.2, 5.9)},
        "renal", (), ("dehydration", "nephrolithiasis"), ("normal saline", "ondansetron"),
        warnings=("vomiting", "confusion"),
    ),
    Presentation(
        "acute pancreatitis", ("abdominal pain", "nausea", "vomiting"), {"lipase": (620, 3200), "WBC": (11.0, 14.8)},
        "ctap", (), ("cholecystitis",), ("ondansetron", "oxycodone"), warnings=("abdominal pain", "vomiting", "fever"),
    ),
    Presentation(
        "acute appendicitis", ("abdominal pain", "fever", "nausea", "loss of appetite"), {"WBC": (12.4, 18.2)},
        "ctap", ("acute appendicitis",), ("diverticulitis",), ("piperacillin-tazobactam",), "appendectomy",
        warnings=("fever", "abdominal pain", "vomiting"),
    ),
    Presentation(
        "cholecystitis", ("abdominal pain", "nausea", "vomiting", "fever"),
        {"WBC": (11.5, 16.0), "total bilirubin": (1.4, 2.8), "ALT": (62, 180)},
        "ruq", ("gallstones", "cholecystitis"), ("acute pancreatitis",), ("piperacillin-tazobactam", "ondansetron"),
        "laparoscopic cholecystectomy", warnings=("fever", "abdominal pain", "vomiting"),
    ),
    Presentation(
        "small bowel obstruction", ("abdominal pain", "vomiting", "constipation"),
        {"lactate": (1.9, 2.7), "potassium": (3.0, 3.4)}, "ctap", ("small bowel obstruction",), (),
        ("ondansetron", "potassium chloride"), warnings=("vomiting", "abdominal pain"),
    ),
    Presentation(
        "pulmonary embolism", ("shortness of breath", "chest pain", "leg swelling"), {"D-dimer": (1.2, 4.8)},
        "cta", ("pulmonary embolism",), ("pneumonia",), ("enoxaparin", "apixaban"),
        warnings=("shortness of breath", "chest pain", "hemoptysis"),
    ),
    Presentation(
        "stroke", ("weakness", "slurred speech", "numbness"), {"glucose": (112, 168)},
        "cth", (), ("transient ischemic attack", "intracranial hemorrhage"), ("aspirin", "atorvastatin"),
        warnings=("weakness", "slurred speech", "numbness"),
    ),
    Presentation(
        "gastrointestinal hemorrhage", ("melena", "dizziness", "fatigue"), {"hemoglobin": (6.8, 8.9), "BUN": (28, 44)},
        "ctap", (), (), ("pantoprazole",), "upper endoscopy", warnings=("melena", "dizziness", "syncope"),
    ),
    Presentation(
        "hyponatremia", ("confusion", "nausea", "weakness"), {"sodium": (118, 128)},
        "cth", (), ("intracranial hemorrhage",), ("sodium chloride tablets",), warnings=("confusion", "headache"),
    ),
)

CLINIC: tuple[Presentation, ...] = (
    Presentation(
        "influenza", ("cough", "fever", "sore throat", "fatigue"), {}, "cxr", (), ("pneumonia", "COVID-19"),
        ("acetaminophen",), inpatient=False,
    ),
    Presentation(
        "asthma", ("wheezing", "cough", "shortness of breath"), {}, "cxr", (), ("pneumonia",),
        ("prednisone", "albuterol"), inpatient=False,
    ),
    Presentation(
        "migraine", ("headache", "nausea", "blurred vision"), {}, "cth", (), ("intracranial hemorrhage",),
        ("sumatriptan",), warnings=("headache", "weakness", "numbness"), inpatient=False,
    ),
    Presentation(
        "nephrolithiasis", ("flank pain", "hematuria", "nausea"), {"creatinine": (1.0, 1.3)}, "renal",
        ("nephrolithiasis", "hydronephrosis"), (), ("tamsulosin", "acetaminophen"),
        warnings=("fever", "flank pain", "vomiting"), inpatient=False,
    ),
    Presentation(
        "deep vein thrombosis", ("leg swelling",), {"D-dimer": (0.9, 2.6)}, "duplex", ("deep vein thrombosis",),
        ("cellulitis",), ("apixaban",), warnings=("shortness of breath", "chest pain", "hemoptysis"),
        inpatient=False,
    ),
    Presentation(
        "type 2 diabetes mellitus", ("fatigue", "blurred vision"),
        {"hemoglobin A1c": (7.4, 9.8), "glucose": (160, 240)},
        "renal", (), (), ("metformin",), warnings=("blurred vision", "confusion"), inpatient=False,
    ),
    Presentation(
        "hypertension", ("headache", "dizziness"), {"creatinine": (0.9, 1.2)}, "echo", (), (),
        ("amlodipine",), warnings=("chest pain", "headache", "blurred vision"), inpatient=False,
    ),
)
