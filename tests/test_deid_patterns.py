"""Tests of the pattern recognizers (carelm.deid.patterns, carelm.deid.dates): what they flag and what they leave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carelm.core.errors import ConfigError
from carelm.deid.base import PHI_TYPES, DeidDoc
from carelm.deid.date_context import load_lexicon
from carelm.deid.dates import DateRecognizer
from carelm.deid.engine import PhiEngine
from carelm.deid.patterns import (
    PatternRecognizer,
    iban_ok,
    load_rules,
    lower_view,
    luhn_ok,
    phone_ok,
    recognizers,
    word_regex,
)


@pytest.fixture(scope="module")
def engine() -> PhiEngine:
    found = PhiEngine(recognizers())
    found.load()
    return found


def flagged(engine: PhiEngine, text: str) -> list[tuple[str, str]]:
    return [(text[span.start:span.end], span.type) for span in engine.find(DeidDoc(text))]


# --- dates ------------------------------------------------------------------------------------------------------

DATES = [
    ("Colonoscopy on 3/14/2023 was normal.", ["3/14/2023"]),
    ("Labs repeated 03-14-23 in clinic.", ["03-14-23"]),
    ("Echo 2019-03-04 showed EF 40%.", ["2019-03-04"]),
    ("Follow up 3/14 with cardiology.", ["3/14"]),
    ("Admitted 7/22 with chest pain.", ["7/22"]),
    ("Surgery on March 14, 2023 went well.", ["March 14, 2023"]),
    ("Plan to recheck levels Mar 3rd.", ["Mar 3rd"]),
    ("Returned to the unit on the 3rd of March.", ["3rd of March"]),
    ("Last mammogram Jan '19, negative.", ["Jan '19"]),
    ("Fevers began on the 5th and resolved.", ["5th"]),
    ("Biopsy collected 14-Mar-2023.", ["14-Mar-2023"]),
    ("Moved to the area in September.", ["September"]),
    ("Seen at an outside clinic in sept. for the same complaint.", ["sept."]),
    ("Stress test 11/2019 was negative.", ["11/2019"]),
    ("TAH (4/98) for fibroids.", ["4/98"]),
    ("Hemoglobin 8.1 on 6/3, transfused.", ["6/3"]),
    ("Cultures from 10/2 and 10/4 pending.", ["10/2", "10/4"]),
    ("ANTIBIOTICS STOPPED 9/12 PER ID.", ["9/12"]),
    ("DISCHARGED HOME 10/19.", ["10/19"]),
    ("SPIKED TO 101.9 11/3, PAN CULTURED.", ["11/3"]),
    ("12/4 0300: pt restless, medicated.", ["12/4"]),
    ("Transfusion 5/17 am for low Hct.", ["5/17"]),
    ("Symptoms began on 5/5 and progressed.", ["5/5"]),
    ("Home on the 2nd, readmitted since.", ["2nd"]),
    ("Diagnosed with diabetes in 2015.", ["2015"]),
    ("Sober since 2009 per family.", ["2009"]),
    ("PMH: CABG 1997, AVR 2004.", ["1997", "2004"]),
    ("S/P lumpectomy 1988, 1993 for recurrence.", ["1988", "1993"]),
    ("Prior stent placement (2012) at an outside hospital.", ["2012"]),
    ("s/p MI '93, CHF.", ["'93"]),
    ("Family moved here in the 1970s.", ["1970s"]),
    ("Visits over Thanksgiving were stressful.", ["Thanksgiving"]),
    ("Logged 2021-04-05 13:45:10 by the system.", ["2021-04-05 13:45:10"]),
    ("PMH: HTN. 07 CABG x3. 11 stent to RCA.", ["07", "11"]),
    ("Hx: s/p 98 lumpectomy, doing well.", ["98"]),
    ("Diuresed, UO-4/12 Lasix given.", ["4/12"]),
    ("Family meeting 031588 planned.", ["031588"]),
    ("Discharged 112087 to rehab.", ["112087"]),
    ("Logged 20190304 and 03042019.", ["20190304", "03042019"]),
    ("Moved away April of 2019 for work.", ["April of 2019"]),
    ("Seen 05.04.2021 in clinic.", ["05.04.2021"]),
    ("Scan 2021/04/05 unchanged.", ["2021/04/05"]),
]


@pytest.mark.parametrize(("text", "expected"), DATES)
def test_dates_are_flagged(engine: PhiEngine, text: str, expected: list[str]) -> None:
    assert flagged(engine, text) == [(piece, "DATE") for piece in expected]


# --- other identifiers ------------------------------------------------------------------------------------------

IDENTIFIERS = [
    ("Mr. Doe is a 92 yo man with CHF.", "92", "AGE"),
    ("Pt is aged 95 and lives alone.", "95", "AGE"),
    ("A 97-year-old woman presented with syncope.", "97", "AGE"),
    ("Her mother died at age 94.", "94", "AGE"),
    ("She is in her 90s and independent.", "90s", "AGE"),
    ("Age: 101", "101", "AGE"),
    ("Call daughter at 617-555-0134 anytime.", "617-555-0134", "PHONE"),
    ("Home (617) 555-0199 after six.", "(617) 555-0199", "PHONE"),
    ("cell 617.555.0123", "617.555.0123", "PHONE"),
    ("Office 1-800-555-0100 ext 22", "1-800-555-0100 ext 22", "PHONE"),
    ("son can be reached at 413 5550178 evenings", "413 5550178", "PHONE"),
    ("Phone 555-0142", "555-0142", "PHONE"),
    ("Fax: 617-555-0188", "617-555-0188", "FAX"),
    ("F: 617-555-0177", "617-555-0177", "FAX"),
    ("Send results to jdoe@example.org please.", "jdoe@example.org", "EMAIL"),
    ("SSN 123-45-6789 on file", "123-45-6789", "SSN"),
    ("Social security number: 123456789", "123456789", "SSN"),
    ("Portal at https://portal.example.org/login today", "https://portal.example.org/login", "URL"),
    ("See www.example.com for the handout.", "www.example.com", "URL"),
    ("Monitor streams to 10.20.30.40 now.", "10.20.30.40", "IP"),
    ("Gateway fe80::1ff:fe23:4567:890a configured.", "fe80::1ff:fe23:4567:890a", "IP"),
    ("Lives at 123 Main St, Apt 4 with her son.", "123 Main St, Apt 4", "ADDRESS"),
    ("Moved to 45 Oak Avenue last year.", "45 Oak Avenue", "ADDRESS"),
    ("Mail to PO Box 1234 only.", "1234", "ADDRESS"),
    ("Springfield, MA 01103", "01103", "ZIP"),
    ("zip code 02139", "02139", "ZIP"),
    ("MRN: 1234567", "1234567", "MRN"),
    ("medical record # 00123456", "00123456", "MRN"),
    ("MR# 7654321 verified", "7654321", "MRN"),
    ("Acct # 998877665", "998877665", "ACCOUNT"),
    ("account number 44556677", "44556677", "ACCOUNT"),
    ("Member ID: XJK123456789", "XJK123456789", "HEALTH_PLAN"),
    ("Medicare number 1EG4-TE5-MK73", "1EG4-TE5-MK73", "HEALTH_PLAN"),
    ("Insurance ID 88776655", "88776655", "HEALTH_PLAN"),
    ("License # D1234567", "D1234567", "LICENSE"),
    ("DEA BX1234567", "BX1234567", "LICENSE"),
    ("NPI 1234567890", "1234567890", "LICENSE"),
    ("Accession #: RA23-1234567", "RA23-1234567", "ID"),
    ("Pager 4455 for questions", "4455", "ID"),
    ("beeper #12345", "12345", "ID"),
    ("Pacemaker model X1 serial PJN123456", "PJN123456", "DEVICE"),
    ("S/N: 4421-AB-9", "4421-AB-9", "DEVICE"),
    ("License plate 7ABC123", "7ABC123", "VEHICLE"),
    ("Car VIN 1HGCM82633A004352 towed.", "1HGCM82633A004352", "VEHICLE"),
    ("Reach her on +44 20 7123 4567 today.", "+44 20 7123 4567", "PHONE"),
    ("Desk line +41 (0)22 123 45 67 only.", "+41 (0)22 123 45 67", "PHONE"),
    ("Son's number is 0612 34 56 78 evenings.", "0612 34 56 78", "PHONE"),
    ("Landline 01.23.45.67.89 works.", "01.23.45.67.89", "PHONE"),
    ("Phone:\n321 7654", "321 7654", "PHONE"),
    ("Then 44-12-34-56 office.", "44-12-34-56", "PHONE"),
    ("Or try (31) 456-789 instead.", "(31) 456-789", "PHONE"),
    ("Card 4111111111111111 was charged.", "4111111111111111", "ACCOUNT"),
    ("Paid with 4111 1111 1111 1111 today.", "4111 1111 1111 1111", "ACCOUNT"),
    ("Refund to GB82WEST12345698765432 please.", "GB82WEST12345698765432", "ACCOUNT"),
    ("my iban is de89370400440532013000", "de89370400440532013000", "ACCOUNT"),
    ("Forward to Flat 3 please.", "Flat 3", "ADDRESS"),
    ("Mail goes to PSC 1234, Box 5678\nAPO AE 09123", "PSC 1234, Box 5678\nAPO AE 09123", "ADDRESS"),
    ("She lives at 12 Rua das Flores 345 now.", "12 Rua das Flores 345", "ADDRESS"),
    ("Zip: 1234", "1234", "ZIP"),
    ("Postcode SW1A 1AA", "SW1A 1AA", "ZIP"),
    ("Daughter (312455-6677) visited.", "312455-6677", "PHONE"),
    ("Call 312-4556677 now", "312-4556677", "PHONE"),
    ("pgr 4-4455 for questions", "4-4455", "ID"),
    ("Team paged at 55123 twice.", "55123", "ID"),
    ("Blocked 2001:db8:85a3:0:0:8a2e:370:7334 today.", "2001:db8:85a3:0:0:8a2e:370:7334", "IP"),
    ("ZIP: 123 45", "123 45", "ZIP"),
    ("ZIP: 1234 AB", "1234 AB", "ZIP"),
    ("Zip code: 12-345", "12-345", "ZIP"),
    ("The office is at 4455 210 Harbor Street now.", "4455 210 Harbor Street", "ADDRESS"),
    ("Meet me at 45 Oak Avenue, Newtown, Freedonia", "45 Oak Avenue, Newtown, Freedonia", "ADDRESS"),
    ("Send to 45 Oak Avenue, Newtown 44556? Thanks", "45 Oak Avenue, Newtown 44556", "ADDRESS"),
    ("Ship to 12 Elm Road\nSuite 300\nSpringfield\n\nFreedonia 12345\n\nMobile: ask",
     "12 Elm Road\nSuite 300\nSpringfield\n\nFreedonia 12345", "ADDRESS"),
    ("She lives at 12 Rua das Flores 345\nBairro Novo\n, XY\n 12345-678\nCall me",
     "12 Rua das Flores 345\nBairro Novo\n, XY\n 12345-678", "ADDRESS"),
]


@pytest.mark.parametrize(("text", "piece", "phi_type"), IDENTIFIERS)
def test_identifiers_are_flagged(engine: PhiEngine, text: str, piece: str, phi_type: str) -> None:
    assert flagged(engine, text) == [(piece, phi_type)]


# --- near misses ------------------------------------------------------------------------------------------------

NOT_PHI = [
    "metoprolol 25 mg PO BID",
    "heparin 1000 units/hr",
    "heparin 2000 units bolus then 1500 units/hr",
    "UO 1500 ml over the shift",
    "K 3.9 Hct 30.2 WBC 12.5",
    "BP 120/80 HR 88 RR 18 T 98.6 O2 sat 97% on 2L",
    "BP 90s-100s/50s overnight",
    "GCS 15, pain 4/10 at rest",
    "c/o CP 8/10 relieved with NTG",
    "Pain 3-4/10 after turning",
    "2/6 systolic murmur at LUSB",
    "Murmur 3/6 SEM",
    "Strength 5/5 RUE, 4/5 LLE",
    "APGAR 8/9",
    "Take 1/2 tab nightly.",
    "D5 1/2NS at 75cc/hr",
    "Crackles 1/3 up bilaterally.",
    "On 3/4 L NC overnight",
    "3/4 L NC",
    "Tolerating PS 10/5 with good volumes.",
    "Vent AC 14/500/+5/40%",
    "Weaned to CPAP 5/5 this morning.",
    "ABG 7.38/42/88",
    "Ambulated x2 with assist.",
    "Pain medication given at 9:30PM.",
    "Given at 2000 and again at 2200.",
    "FSBS 210 at 2100 covered per scale.",
    "I/O: in 2000 out 1500",
    "CKs 150-220-1000 trending down",
    "On 3-4 L NC overnight",
    "Head of bed up on 1-2 pillows",
    "HOB 30' maintained",
    "Ht 5'11\" Wt 180",
    "She is 89 years old.",
    "Seen Monday for follow up.",
    "Worse in the winter.",
    "ID: afebrile, WBC 12.5",
    "ID: vanco 1250 mg IV q12",
    "Gave 2 units FFP and Dr Smith aware",
    "Pt placed on 1st step mattress.",
    "Babinski sign negative, Homan's sign negative.",
    "Cholesterol was 240 in clinic.",
    "Pt may need 2 units more.",
    "Please dec TF rate by 10.",
    "Card 4111111111111112 was declined.",
    "Ref GB00WEST12345698765432 on file.",
    "Morphine 0.25 0.5 1.0 2.0 mg given.",
    "Meds at 0800 1200 1600 2000.",
    "Temp 98 Pulse 88 at rest.",
    "Gave 2 Tylenol 325 mg PO.",
    "Suite of tests ordered.",
    "MED WITH MS04 2MG IVP X2.",
    "Paced at 60 ppm overnight.",
    "Plt 101000 this am.",
    "Heparin 100000 units in bag.",
    "Received 20 lasix and 40 kcl.",
    "Ordered 3 stent kits.",
    "BP-120/80 after fluids.",
    "Strength-5/5 all extremities.",
    "Pain-7/10 after turning.",
    "CPAP-10/5 tolerated.",
    "Times 10:11:12:13:14:15:16:17 logged.",
    "Weight 123456 grams",
]


@pytest.mark.parametrize("text", NOT_PHI)
def test_near_misses_are_not_flagged(engine: PhiEngine, text: str) -> None:
    assert flagged(engine, text) == []


def test_spans_name_their_rule_and_score(engine: PhiEngine) -> None:
    text = "Seen 3/14/2023; call 617-555-0134; MRN: 1234567; 95 yo."
    spans = [span for recognizer in engine.recognizers for span in recognizer.find(DeidDoc(text))]
    assert {span.type for span in spans} == {"DATE", "PHONE", "MRN", "AGE"}
    assert all(span.source and 0.0 <= span.score <= 1.0 and span.type in PHI_TYPES for span in spans)


def test_recognizers_are_patterns_and_dates() -> None:
    found = recognizers()
    assert [r.name for r in found] == ["patterns", "dates"]
    assert all(set(r.types) <= set(PHI_TYPES) for r in found)


def test_offsets_survive_characters_whose_lower_case_is_longer(engine: PhiEngine) -> None:
    text = "\u0130stanbul visit on 3/14/2023"
    assert len(lower_view(text)) == len(text)
    assert flagged(engine, text) == [("3/14/2023", "DATE")]


def test_word_regex_prefers_the_longest_word_and_whole_words() -> None:
    regex = word_regex(["id", "member id", "medical record"])
    assert [m.group() for m in regex.finditer("member id 12; medical   record 3; idle; id 4")] == [
        "member id", "medical   record", "id"]


# --- configuration ----------------------------------------------------------------------------------------------

GOOD = {"name": "test_rule", "type": "ID", "regex": r"\d{4}", "score": 0.5}


def write_rules(tmp_path: Path, entries: object) -> Path:
    path = tmp_path / "patterns.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def test_custom_rule_file_with_context(tmp_path: Path) -> None:
    rule = {**GOOD, "context": ["badge"], "regex": r"[ \t]*(?P<phi>\d{4})", "flags": ["IGNORECASE"]}
    recognizer = PatternRecognizer(write_rules(tmp_path, [rule]))
    text = "Badge 1234 and 5678"
    assert [(text[s.start:s.end], s.source) for s in recognizer.find(DeidDoc(text))] == [("1234", "test_rule")]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{**GOOD, "colour": "red"}], "unknown key 'colour'"),
        ([{**GOOD, "type": "SHOE_SIZE"}], "unknown PHI type"),
        ([{**GOOD, "score": 2}], "score"),
        ([{**GOOD, "score": True}], "wrong type"),
        ([{**GOOD, "regex": "(unclosed"}], "invalid regex"),
        ([{**GOOD, "regex": "{{NOPE}}"}], "unknown fragment"),
        ([{**GOOD, "flags": ["LOUD"]}], "unknown flags"),
        ([{**GOOD, "context": ["", "x"]}], "non-empty strings"),
        ([{k: v for k, v in GOOD.items() if k != "regex"}], "missing keys"),
        ([GOOD, GOOD], "unique"),
        ({"rules": []}, "JSON list"),
    ],
)
def test_bad_rule_files_are_rejected(tmp_path: Path, entries: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_rules(write_rules(tmp_path, entries))


def test_checksums_of_cards_and_ibans() -> None:
    assert luhn_ok("4111 1111 1111 1111") and not luhn_ok("4111 1111 1111 1112") and not luhn_ok("4111")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB83 WEST 1234 5698 7654 32")
    assert phone_ok("+44 20 7123 4567") and not phone_ok("0800 1200 1600") and not phone_ok("01.05.2021")


def test_unknown_check_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown check"):
        load_rules(write_rules(tmp_path, [{**GOOD, "check": "crc"}]))


def test_missing_or_broken_rule_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_rules(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_rules(broken)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 1, "date_cues": ["on"], "colour": ["red"]}, "unknown key 'colour'"),
        ({"version": 2, "date_cues": ["on"]}, "version"),
        ({"version": 1, "date_cues": "on"}, "list of non-empty strings"),
        (["on"], "JSON object"),
    ],
)
def test_bad_date_word_files_are_rejected(tmp_path: Path, data: object, message: str) -> None:
    path = tmp_path / "dates.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_lexicon(path)


def test_date_recognizer_accepts_its_own_word_file(tmp_path: Path) -> None:
    path = tmp_path / "dates.json"
    path.write_text(json.dumps({"version": 1, "date_cues": ["on"]}), encoding="utf-8")
    recognizer = DateRecognizer(path)
    text = "Seen on 3/14 in clinic"
    assert [text[s.start:s.end] for s in recognizer.find(DeidDoc(text))] == ["3/14"]
