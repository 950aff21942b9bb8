"""Name recognizer: invented notes in mixed case, capitals and lower case; eponyms, drugs and headers are not names."""

from __future__ import annotations

import pytest

from carelm.core.errors import ConfigError
from carelm.deid.base import DeidDoc
from carelm.deid.lexicon import AMBIG, NAME, TYPO, UNKNOWN, WORD, lexicon, parse_context, token_view
from carelm.deid.names import CONTEXT_KEYS, NameRecognizer, _NameFinder, recognizers


@pytest.fixture(scope="module")
def recognizer() -> NameRecognizer:
    found = recognizers()
    assert len(found) == 1 and isinstance(found[0], NameRecognizer)
    found[0].load()
    return found[0]


def names(recognizer: NameRecognizer, text: str) -> list[str]:
    spans = recognizer.find(DeidDoc(text))
    assert all(s.type == "NAME" and 0 < s.score <= 1 for s in spans)
    return [text[s.start:s.end] for s in spans]


def covered(recognizer: NameRecognizer, text: str, word: str) -> bool:
    start = text.index(word)
    return any(s.start <= start and start + len(word) <= s.end for s in recognizer.find(DeidDoc(text)))


FOUND = [
    # titles
    ("Seen by Dr. Okonkwo this morning, plan unchanged.", ["Okonkwo"]),
    ("Plan discussed with Dr. Maria Delacroix-Hunt at bedside.", ["Maria Delacroix-Hunt"]),
    ("Per Dr. Brown, continue heparin gtt.", ["Brown"]),
    ("Mrs. Kowalczyk resting comfortably, no complaints.", ["Kowalczyk"]),
    ("Dr. Van Oosten and Dr. Achterberg aware of K 5.9.", ["Van Oosten", "Achterberg"]),
    ("K 5.9. DR FENWICK AWARE, KAYEXALATE GIVEN.", ["FENWICK"]),
    ("BP LABILE OVERNOC. DRS HALLORAN AND WOJCIK AWARE.", ["HALLORAN", "WOJCIK"]),
    ("resting quietly. mr. castellano remains intubated on ac.", ["castellano"]),
    # relatives
    ("Wife Margaret at bedside, updated on plan.", ["Margaret"]),
    ("Pt's daughter (Annabel Quist) called for an update.", ["Annabel Quist"]),
    ("SOCIAL: SON JOHN CALLED, UPDATED ON PLAN OF CARE.", ["JOHN"]),
    ("SOCIAL: WIFE HELGA AND SISTER ROSWITHA IN TO VISIT.", ["HELGA", "ROSWITHA"]),
    ("social: dtr bernadette visited, will return in am.", ["bernadette"]),
    ("Sons Bartholomew, Cornelius and Ignatius in to visit.", ["Bartholomew", "Cornelius", "Ignatius"]),
    ("Family contact: Theodora Marsh (niece) 555-0100.", ["Theodora Marsh"]),
    # clinicians
    ("d/w Jankowski, will hold lasix tonight.", ["Jankowski"]),
    ("NP Okafor in to see pt, no new orders.", ["Okafor"]),
    ("HR 140s, covering MD Patel notified.", ["Patel"]),
    ("CXR reviewed, Z. MALINOWSKI AWARE AND WILL FOLLOW.", ["Z. MALINOWSKI"]),
    ("Plan discussed with E. Vandermolen, agrees.", ["E. Vandermolen"]),
    ("Reported to Dr. Huang. Line d/c'd per Hartigan.", ["Huang", "Hartigan"]),
    ("K 3.1 REPLETED. OKAFOR AND DRS OYELARAN AND PRZYBYL AWARE.", ["OKAFOR", "OYELARAN", "PRZYBYL"]),
    ("Unable to reach Thaddeus overnight, will try again.", ["Thaddeus"]),
    ("K 3.1. HARLOW AWARE, REPLETED.", ["HARLOW"]),
    # beside a phone number
    ("Contacts: Orlaith Vesperine cell# 555-201-3344, home 555-201-9988.", ["Orlaith Vesperine"]),
    ("HCP is her nephew. Tobiah Quarles: (555) 201-3344", ["Tobiah Quarles"]),
    ("Emergency contact Ottoline Brask 555-201-3344 (work).", ["Ottoline Brask"]),
    # signatures and credentials
    ("Pt stable overnight.\n\nRosalind Feeney, RN", ["Rosalind Feeney"]),
    ("SUCTIONED FOR SM AMT SECRETIONS.\n\n GUNTHER P. ABERNATHY, RRT", ["GUNTHER P. ABERNATHY"]),
    ("Seen and examined.\nJ.K. Abernathy, MD", ["J.K. Abernathy"]),
    ("Will notify MD if pain increases.\nT.W., RN", ["T.W."]),
    ("Pt J.S. reports less pain today.", ["J.S."]),
    # headers
    ("Patient: OKONKWO, ADAEZE   MRN: 12345678", ["OKONKWO", "ADAEZE"]),
    ("Dictated by: Halvorsen, Ingrid, MD", ["Halvorsen", "Ingrid"]),
    # a sentence break after a relation word, a letter after a title, a bare initial in context
    ("Wife and son are his proxies. marisol and tobek will visit.", ["marisol", "tobek"]),
    ("micu nursing note\nmr B remained on pressors overnight.", ["B"]),
    ("Seen by Mrs K, plan unchanged.", ["K"]),
    ("sbp goal 100-120 per j okonkwo, lines intact.", ["j okonkwo"]),
]


@pytest.mark.parametrize(("text", "expected"), FOUND)
def test_names_found(recognizer, text, expected):
    found = names(recognizer, text)
    for name in expected:
        assert covered(recognizer, text, name), (name, found)
    assert all(any(word in f for word in expected) for f in found), found


NOT_NAMES = [
    "Hx of Parkinson's disease, on Sinemet; Foley catheter draining clear yellow urine.",
    "Swan-Ganz catheter in place, wedge 18. History of Hodgkin lymphoma s/p chemo.",
    "Gram stain pending. Babinski negative bilaterally. Glasgow coma scale 15.",
    "Marked improvement in sats after diuresis. Will follow up in May.",
    "Given Lasix 40 mg IV, Lopressor 5 mg IV, Coumadin held, Zosyn continued, Tylenol prn.",
    "Pt seen by Cardiology, ID and Renal teams; plan per Cardiology.",
    "NEURO: PERRLA, MAE. CV: NSR, NO ECTOPY. RESP: LS CLEAR, SX FOR SM AMT TAN SPUTUM.\n"
    "GI: ABD SOFT, NPO, NGT TO LWS. GU: FOLEY PATENT. ID: AFEBRILE. SKIN: INTACT.\n"
    "SOCIAL: FAMILY IN TO VISIT. PLAN: CXR IN AM, TRANSFER FROM MICU TO CCU WHEN BED AVAILABLE.\n"
    "PT TO OR IN AM THEN PACU. ED AWARE. PT AWARE. MD AWARE. RN AWARE.",
    "wife will call in am. son in law at bedside. daughter called, updated.",
    "R. arm edema, L. leg warm. E. coli in urine, C. diff negative. PA line placed, PA 35/20.",
    "BP 88/40, NP AWARE. 2L NP. SPO2 95%. PT ASSISTED OOB TO CHAIR.",
    "FAMILY HISTORY:\nFather died of MI at 60. Sister alive and well.",
    "SBP 100's. Dsg D and I. Given MSO4 2mg. T.O. RCA on cath.",
    "ABP 170-190/80s, STV 500-1000 on PS. Foley # 16 placed, MAP 65-70.",
    "Family and Dr. team aware. Pt and RN discussed plan. Wife and NP spoke.",
    "Call bell within reach. Unable to reach baseline MAP. Left AMA 2 days ago.",
    "Home # on chart. Pt's cell 555-201-3344. Called home 555-201-3344, no answer.",
    "Wife is proxy. Will call in am. Son. Aware of plan.",
    "pt wants to speak with a doctor today. edema per r leg exam.",
    "Seen by Dr. NP team. Mr. and Mrs. aware of plan.",
]


@pytest.mark.parametrize("text", NOT_NAMES)
def test_not_names(recognizer, text):
    assert names(recognizer, text) == []


class _EveryToken(_NameFinder):
    """The name rules tried at every token: what the pre-filter of ``candidates`` must not change."""

    def candidates(self) -> list[int]:
        return list(range(self.n))


@pytest.mark.parametrize("text", [text for text, _ in FOUND] + NOT_NAMES)
@pytest.mark.parametrize("case", [str, str.upper, str.lower])
def test_rules_skip_only_tokens_where_none_applies(recognizer, text, case):
    view = token_view(DeidDoc(case(text)))
    finder, reference = _NameFinder(view, recognizer.ctx, recognizer.lex), _EveryToken(view, recognizer.ctx,
                                                                                       recognizer.lex)
    assert finder.run() == reference.run()
    assert finder.parts == reference.parts


def test_context_beats_the_word_list(recognizer):
    assert covered(recognizer, "Discussed with Dr. Foley, agrees with plan.", "Foley")
    assert names(recognizer, "Foley draining well.") == []


def test_lexicon_kinds():
    lex = lexicon()
    assert lex.kind("nicholsonian") in (UNKNOWN, TYPO)
    assert lex.kind("maureen") == NAME
    assert lex.kind("white") == AMBIG
    assert lex.kind("perrla") == WORD
    assert lex.kind("suctioning") == WORD
    assert lex.kind("swolen") == TYPO
    assert lex.kind("harlow") == NAME
    assert lex.kind("gurney") == AMBIG


def test_context_file_schema():
    data = {"version": 1, **{key: ["x"] for key in CONTEXT_KEYS}}
    assert parse_context(data, CONTEXT_KEYS, "test")["titles"] == ["x"]
    with pytest.raises(ConfigError):
        parse_context({**data, "surprise": ["x"]}, CONTEXT_KEYS, "test")
    with pytest.raises(ConfigError):
        parse_context({k: v for k, v in data.items() if k != "titles"}, CONTEXT_KEYS, "test")
    with pytest.raises(ConfigError):
        parse_context({**data, "titles": "dr"}, CONTEXT_KEYS, "test")
    with pytest.raises(ConfigError):
        parse_context({**data, "version": 2}, CONTEXT_KEYS, "test")
