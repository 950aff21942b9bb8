"""Orderable vocabulary for the synthetic generator: drugs, laboratory tests, imaging studies and procedures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drug:
    """A medication with a typical dose, route and frequency."""

    name: str
    dose: str
    route: str
    freq: str


@dataclass(frozen=True)
class Lab:
    """A laboratory test with its unit, normal range and number of decimals."""

    name: str
    unit: str
    low: float
    high: float
    decimals: int = 0


@dataclass(frozen=True)
class Study:
    """An imaging study: report title, how notes refer to it, technique and findings that may be absent."""

    title: str
    mention: str
    technique: str
    negatives: tuple[str, ...]
    normal: tuple[str, ...]


_DRUGS: tuple[tuple[str, str, str, str], ...] = (
    ("metformin", "500 mg", "PO", "BID"), ("lisinopril", "10 mg", "PO", "daily"),
    ("amlodipine", "5 mg", "PO", "daily"), ("losartan", "50 mg", "PO", "daily"),
    ("hydrochlorothiazide", "25 mg", "PO", "daily"), ("atorvastatin", "40 mg", "PO", "nightly"),
    ("metoprolol succinate", "50 mg", "PO", "daily"), ("metoprolol tartrate", "25 mg", "PO", "BID"),
    ("carvedilol", "6.25 mg", "PO", "BID"), ("furosemide", "40 mg", "PO", "daily"),
    ("spironolactone", "25 mg", "PO", "daily"), ("aspirin", "81 mg", "PO", "daily"),
    ("clopidogrel", "75 mg", "PO", "daily"), ("apixaban", "5 mg", "PO", "BID"), ("warfarin", "5 mg", "PO", "daily"),
    ("insulin glargine", "20 units", "SC", "nightly"), ("insulin lispro", "4 units", "SC", "with meals"),
    ("levothyroxine", "75 mcg", "PO", "daily"), ("omeprazole", "20 mg", "PO", "daily"),
    ("pantoprazole", "40 mg", "PO", "daily"), ("albuterol", "2 puffs", "inhaled", "q4h PRN"),
    ("tiotropium", "18 mcg", "inhaled", "daily"), ("fluticasone-salmeterol", "250/50 mcg", "inhaled", "BID"),
    ("montelukast", "10 mg", "PO", "nightly"), ("prednisone", "40 mg", "PO", "daily"),
    ("azithromycin", "500 mg", "PO", "daily"), ("ceftriaxone", "1 g", "IV", "q24h"),
    ("piperacillin-tazobactam", "3.375 g", "IV", "q6h"), ("vancomycin", "1 g", "IV", "q12h"),
    ("cephalexin", "500 mg", "PO", "QID"), ("nitrofurantoin", "100 mg", "PO", "BID"),
    ("acetaminophen", "650 mg", "PO", "q6h PRN"), ("oxycodone", "5 mg", "PO", "q4h PRN"),
    ("ondansetron", "4 mg", "IV", "q6h PRN"), ("sertraline", "50 mg", "PO", "daily"),
    ("buspirone", "10 mg", "PO", "BID"), ("gabapentin", "300 mg", "PO", "TID"),
    ("allopurinol", "100 mg", "PO", "daily"), ("tamsulosin", "0.4 mg", "PO", "nightly"),
    ("donepezil", "10 mg", "PO", "nightly"), ("levetiracetam", "500 mg", "PO", "BID"),
    ("sumatriptan", "50 mg", "PO", "PRN"), ("alendronate", "70 mg", "PO", "weekly"),
    ("ferrous sulfate", "325 mg", "PO", "daily"), ("methotrexate", "15 mg", "PO", "weekly"),
    ("cilostazol", "100 mg", "PO", "BID"), ("enoxaparin", "40 mg", "SC", "daily"),
    ("heparin", "5000 units", "SC", "q8h"), ("potassium chloride", "20 mEq", "PO", "daily"),
    ("docusate", "100 mg", "PO", "BID"), ("lactulose", "20 g", "PO", "TID"),
    ("normal saline", "1 L", "IV", "bolus"), ("sodium chloride tablets", "1 g", "PO", "TID"),
)

DRUGS: dict[str, Drug] = {row[0]: Drug(*row) for row in _DRUGS}

CHRONIC_DRUGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "hypertension": (("lisinopril", "losartan", "amlodipine"), ("hydrochlorothiazide", "amlodipine")),
    "type 2 diabetes mellitus": (("metformin",), ("insulin glargine",)),
    "type 1 diabetes mellitus": (("insulin glargine",), ("insulin lispro",)),
    "hyperlipidemia": (("atorvastatin",),),
    "congestive heart failure": (("furosemide",), ("carvedilol",), ("spironolactone",)),
    "atrial fibrillation": (("apixaban", "warfarin"), ("metoprolol succinate",)),
    "coronary artery disease": (("aspirin",), ("atorvastatin",), ("metoprolol tartrate", "clopidogrel")),
    "chronic obstructive pulmonary disease": (("tiotropium",), ("albuterol",)),
    "asthma": (("fluticasone-salmeterol",), ("albuterol",), ("montelukast",)),
    "gastroesophageal reflux disease": (("omeprazole", "pantoprazole"),),
    "hypothyroidism": (("levothyroxine",),),
    "major depressive disorder": (("sertraline",),),
    "generalized anxiety disorder": (("buspirone",),),
    "osteoarthritis": (("acetaminophen",),),
    "iron deficiency anemia": (("ferrous sulfate",),),
    "gout": (("allopurinol",),),
    "osteoporosis": (("alendronate",),),
    "migraine": (("sumatriptan",),),
    "epilepsy": (("levetiracetam",),),
    "rheumatoid arthritis": (("methotrexate",),),
    "peripheral artery disease": (("cilostazol",), ("aspirin",)),
}

_LABS: tuple[tuple[str, str, float, float, int], ...] = (
    ("WBC", "K/uL", 4.5, 10.5, 1), ("hemoglobin", "g/dL", 12.0, 15.5, 1), ("platelets", "K/uL", 160, 380, 0),
    ("sodium", "mEq/L", 136, 144, 0), ("potassium", "mEq/L", 3.6, 4.9, 1), ("creatinine", "mg/dL", 0.6, 1.1, 2),
    ("BUN", "mg/dL", 8, 20, 0), ("glucose", "mg/dL", 75, 110, 0), ("troponin", "ng/mL", 0.0, 0.02, 2),
    ("BNP", "pg/mL", 20, 90, 0), ("lactate", "mmol/L", 0.6, 1.8, 1), ("procalcitonin", "ng/mL", 0.02, 0.09, 2),
    ("hemoglobin A1c", "%", 5.0, 5.6, 1), ("TSH", "mIU/L", 0.5, 4.0, 2), ("INR", "", 0.9, 1.1, 1),
    ("lipase", "U/L", 12, 55, 0), ("D-dimer", "mg/L FEU", 0.1, 0.45, 2), ("ALT", "U/L", 10, 40, 0),
    ("total bilirubin", "mg/dL", 0.3, 1.1, 1), ("LDL", "mg/dL", 60, 99, 0),
)

LABS: dict[str, Lab] = {row[0]: Lab(*row) for row in _LABS}

PANELS: tuple[str, ...] = ("CBC", "BMP", "CMP", "urinalysis", "blood cultures", "lipid panel", "ECG")

STUDIES: dict[str, Study] = {
    "cxr": Study(
        "XR CHEST PA AND LATERAL", "chest x-ray", "Frontal and lateral views of the chest.",
        ("pleural effusion", "pneumothorax", "consolidation", "pulmonary edema"),
        ("The cardiomediastinal silhouette is within normal limits.", "No acute osseous abnormality."),
    ),
    "cta": Study(
        "CT ANGIOGRAPHY CHEST", "CT angiogram of the chest",
        "Contiguous axial images of the chest after intravenous contrast using a pulmonary embolism protocol.",
        ("pulmonary embolism", "pleural effusion", "pericardial effusion", "consolidation"),
        ("The thoracic aorta is normal in caliber.", "Heart size is normal."),
    ),
    "ctap": Study(
        "CT ABDOMEN AND PELVIS WITH CONTRAST", "CT of the abdomen and pelvis",
        "Axial images from the lung bases through the pubic symphysis after oral and intravenous contrast.",
        ("small bowel obstruction", "hydronephrosis", "nephrolithiasis", "acute appendicitis"),
        ("The liver, spleen and adrenal glands are unremarkable.", "No free intraperitoneal air."),
    ),
    "cth": Study(
        "CT HEAD WITHOUT CONTRAST", "CT of the head", "Noncontrast axial images of the head.",
        ("intracranial hemorrhage", "stroke"),
        ("Ventricles and sulci are appropriate for age.", "No midline shift or mass effect."),
    ),
    "ruq": Study(
        "US ABDOMEN RIGHT UPPER QUADRANT", "right upper quadrant ultrasound",
        "Grayscale and color Doppler images of the right upper quadrant.",
        ("gallstones", "cholecystitis"),
        ("The common bile duct measures 4 mm.", "The liver is normal in echotexture."),
    ),
    "renal": Study(
        "US RENAL COMPLETE", "renal ultrasound", "Grayscale and color Doppler images of both kidneys and bladder.",
        ("hydronephrosis", "nephrolithiasis"),
        ("The right kidney measures 10.8 cm and the left kidney 11.2 cm.", "The bladder is decompressed."),
    ),
    "duplex": Study(
        "US VENOUS DUPLEX LOWER EXTREMITY", "lower extremity venous duplex",
        "Compression and color Doppler images of the deep veins of the lower extremity.",
        ("deep vein thrombosis",),
        ("Normal compressibility and phasic flow in the common femoral and popliteal veins.",),
    ),
    "echo": Study(
        "TRANSTHORACIC ECHOCARDIOGRAM", "echocardiogram", "Two-dimensional and Doppler transthoracic imaging.",
        ("pericardial effusion",),
        ("Left ventricular ejection fraction is estimated at 55 to 60 percent.", "No significant valvular disease."),
    ),
}

_PROCEDURES: tuple[tuple[str, str | None], ...] = (
    ("cardiac catheterization", "LHC"), ("percutaneous coronary intervention", "PCI"),
    ("coronary artery bypass grafting", "CABG"), ("appendectomy", None), ("laparoscopic cholecystectomy", None),
    ("total knee arthroplasty", "TKA"), ("total hip arthroplasty", "THA"), ("colonoscopy", None),
    ("upper endoscopy", "EGD"), ("hysterectomy", None), ("cesarean section", None), ("tonsillectomy", None),
    ("thoracentesis", None), ("paracentesis", None), ("central line placement", None),
    ("inguinal hernia repair", None), ("cataract surgery", None), ("pacemaker placement", None),
    ("lumbar puncture", "LP"), ("bronchoscopy", None), ("carpal tunnel release", None),
)

PROCEDURES: dict[str, str | None] = dict(_PROCEDURES)

PAST_SURGERIES: tuple[str, ...] = (
    "appendectomy", "laparoscopic cholecystectomy", "total knee arthroplasty", "total hip arthroplasty",
    "hysterectomy", "cesarean section", "tonsillectomy", "inguinal hernia repair", "cataract surgery",
    "coronary artery bypass grafting", "pacemaker placement", "carpal tunnel release", "colonoscopy",
)

FEMALE_ONLY_PROCEDURES = frozenset({"hysterectomy", "cesarean section"})
