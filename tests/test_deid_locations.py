"""Place recognizer: invented hospitals, towns and units; clinical units and ST segments are not places."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from carelm.deid.base import DeidDoc
from carelm.deid.lexicon import parse_context, token_view
from carelm.deid.locations import CONTEXT_KEYS, LocationRecognizer, _PlaceFinder, recognizers


@pytest.fixture(scope="module")
def recognizer() -> LocationRecognizer:
    found = recognizers()
    assert len(found) == 1 and isinstance(found[0], LocationRecognizer)
    found[0].load()
    return found[0]


def places(recognizer: LocationRecognizer, text: str) -> list[tuple[str, str]]:
    return [(text[s.start:s.end], s.type) for s in recognizer.find(DeidDoc(text))]


def covered_as(recognizer: LocationRecognizer, text: str, phrase: str) -> set[str]:
    """The types of the spans that cover ``phrase`` whole."""
    start = text.index(phrase)
    end = start + len(phrase)
    return {s.type for s in recognizer.find(DeidDoc(text)) if s.start <= start and end <= s.end}


FOUND = [
    ("Pt transferred from St. Brigid Medical Center for cath.", "St. Brigid Medical Center", "HOSPITAL"),
    ("Admitted to Holy Name Hospital last month with CHF.", "Holy Name Hospital", "HOSPITAL"),
    ("PT WAS TRANSFERRED FROM WINTERBOURNE MEMORIAL TODAY.", "WINTERBOURNE MEMORIAL", "HOSPITAL"),
    ("plan to be discharged to larchmont rehab tomorrow.", "larchmont rehab", "HOSPITAL"),
    ("Lives at Pemberton House, an assisted living.", "Pemberton House", "HOSPITAL"),
    ("Had been screened by Ashgrove Nursing Home staff.", "Ashgrove Nursing Home", "HOSPITAL"),
    ("PT ADMITTED FROM UNIVERSITY OF VERMONT MEDICAL CENTER.", "UNIVERSITY OF VERMONT MEDICAL CENTER", "HOSPITAL"),
    ("Accepted at St. Ignatius, awaiting bed.", "St. Ignatius", "HOSPITAL"),
    ("PT TRANSFERRED TO HVH FOR CATH.", "HVH", "HOSPITAL"),
    ("plan: transfer to hollister 4 when bed available.", "hollister", "LOCATION"),
    ("PLAN: TO BRAMWELL 3 IN AM.", "BRAMWELL", "LOCATION"),
    ("Works as a teacher at Maple Ridge Elementary School.", "Maple Ridge Elementary School", "LOCATION"),
    ("He was at Fernhill Park when the pain began.", "Fernhill Park", "LOCATION"),
    ("Lives in Schenectady with his wife.", "Schenectady", "CITY"),
    ("DAUGHTER FLYING IN FROM TORONTO TOMORROW.", "TORONTO", "CITY"),
    ("social: lives alone in brackenridge, son nearby.", "brackenridge", "LOCATION"),
    ("Address: 12 Elm St, Montpelier, VT 05602", "Montpelier", "CITY"),
    ("Address: 12 Elm St, Montpelier, VT 05602", "VT", "STATE"),
    ("Moved here from Cincinnati last year.", "Cincinnati", "CITY"),
    ("PT TAKEN TO HOLLY REGIONAL FOR CATH.", "HOLLY REGIONAL", "HOSPITAL"),
    ("found down, brought to KMC ED by EMS.", "KMC", "HOSPITAL"),
    ("kmc cx pending. found down -> kmc ew, intubated there.", "kmc", "HOSPITAL"),
    ("Blood cx from KMC pending. Found down, brought to KMC ED by EMS.", "KMC", "HOSPITAL"),
    ("asked where he was, said at tobias's farm.", "tobias's farm", "LOCATION"),
    ("pt said he was at ronan keefe's house.", "ronan keefe's", "LOCATION"),
    ("Knows she is in Unity General Hospital.", "Unity General Hospital", "HOSPITAL"),
    ("Knows she is in General Hospital downtown.", "General", "HOSPITAL"),
    ("Social: had a bed @ St B. but needs rescreening.", "St B", "HOSPITAL"),
    ("cultures drawn at WVH were negative. WVH cx no growth.", "WVH", "HOSPITAL"),
    ("dtr flew in from Qarvikstad this am.", "Qarvikstad", "LOCATION"),
    ("Her sister is visiting from Portugal next week.", "Portugal", "LOCATION"),
    ("I will be travelling to New Zealand soon.", "New Zealand", "LOCATION"),
    ("Address: 14 Rua Alta, Braganzo, Portugal", "Braganzo", "CITY"),
    ("SENT TO 12 HAVNEVEJ / AARVIK / NORWAY 0150", "NORWAY", "LOCATION"),
]


@pytest.mark.parametrize(("text", "phrase", "kind"), FOUND)
def test_places_found(recognizer, text, phrase, kind):
    assert kind in covered_as(recognizer, text, phrase), places(recognizer, text)


NOT_PLACES = [
    "ST elevation in V2-V4 with ST depression laterally. ST CHANGES RESOLVED.",
    "Transfer to floor when bed available. Transfer to CCU in am.",
    "Sent to OR, then to PACU, back to ICU. Admitted to MICU from ED.",
    "PT TRANSFERRED FROM EW TO CSRU. TO CATH LAB IN AM.",
    "Glasgow coma scale 14. LIMA to LAD, SVG to OM.",
    "Pt lives in a nursing home. PT LIVES WITH WIFE IN ASSISTED LIVING.",
    "Discharged home with VNA services. Will go to rehab.",
    "Lives in Maryland with her husband.",
    "Cardiac rehab consulted. General hospital course uncomplicated.",
    "Pt c/o having to urinate. Tx according to sliding scale.",
    "Received MSO4 2mg IV, PCO2 45, PaO2 88 on 40%.",
    "Family aware of plan. Dr. Mercy aware.",
    "Written for regular house diet.",
    "Pt brought to ED by EMS. BIBA to ER. Taken to cath lab then to OR.",
    "Transferred to general medicine. Sent to Cardiac Rehab. Went to bed early.",
    "Stayed at her daughter's house last week, then at his son's home.",
    "NPN\nCCU 7P-7A. Pt to MRI ED aware.",
    "Pt at ICU baseline. Restraints applied to UE's. Sputum from OETT suctioned.",
    "Pt with ST depression. ST A-fib noted. Tolerating turkey sandwich in chad's room.",
    "PT FROM JORDAN HALL TO CCU. In Lasix drip at HS.",
]


@pytest.mark.parametrize("text", NOT_PLACES)
def test_not_places(recognizer, text):
    assert [p for p in places(recognizer, text) if p[1] != "NAME"] == []


class _EveryToken(_PlaceFinder):
    """The place rules tried at every token: what the pre-filter of ``candidates`` must not change."""

    def candidates(self) -> list[int]:
        return list(range(self.n))


@pytest.mark.parametrize("text", [text for text, _, _ in FOUND] + NOT_PLACES)
@pytest.mark.parametrize("case", [str, str.upper, str.lower])
def test_rules_skip_only_tokens_where_none_applies(recognizer, text, case):
    view = token_view(DeidDoc(case(text)))
    reference = _EveryToken(view, recognizer.ctx, recognizer.lex).run()
    assert _PlaceFinder(view, recognizer.ctx, recognizer.lex).run() == reference


def test_state_only_in_address_context(recognizer):
    assert "STATE" not in {kind for _, kind in places(recognizer, "Signed: Amanda Hamilton, MD")}
    assert places(recognizer, "Lives in Utica NY area") == [("Utica", "CITY")]


def test_context_file_schema():
    data = {"version": 1, **{key: ["x"] for key in CONTEXT_KEYS}}
    assert parse_context(data, CONTEXT_KEYS, "test")["saints"] == ["x"]
    with pytest.raises(Exception, match="unknown keys"):
        parse_context({**data, "gazetteer": ["x"]}, CONTEXT_KEYS, "test")


def test_resources_are_small():
    folder = Path(str(resources.files("carelm").joinpath("resources", "deid")))
    assert sum(entry.stat().st_size for entry in folder.iterdir()) < 2_000_000
