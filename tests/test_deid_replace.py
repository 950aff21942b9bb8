"""De-identified text from PHI spans: redact, mask and consistent surrogates (all examples invented)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime

import pytest

from carelm.core.errors import InputError
from carelm.deid.base import PhiSpan
from carelm.deid.replace import MODES, replace_phi
from carelm.deid.surrogates import SurrogateMaker

NOTE = (
    "Pt John Smith (MRN 00482913) seen 3/1/2023 by Dr. Alice Wong at Lakeview General Hospital.\n"
    "Call 617-555-0142 or email jsmith@mailbox.test. SSN 123-45-6789. Lives at 12 Elm St, Springfield, MA.\n"
    "Follow-up March 15, 2023; age 92 yo."
)
NOTE_PHI = [
    ("John Smith", "NAME"), ("00482913", "MRN"), ("3/1/2023", "DATE"), ("Alice Wong", "NAME"),
    ("Lakeview General Hospital", "HOSPITAL"), ("617-555-0142", "PHONE"), ("jsmith@mailbox.test", "EMAIL"),
    ("123-45-6789", "SSN"), ("12 Elm St", "ADDRESS"), ("Springfield", "CITY"), ("MA", "STATE"),
    ("March 15, 2023", "DATE"), ("92 yo", "AGE"),
]


def spans_for(text: str, items: list[tuple[str, str]]) -> list[PhiSpan]:
    """Spans for each (value, type) found in order in ``text``."""
    spans, pos = [], 0
    for value, phi_type in items:
        start = text.index(value, pos)
        spans.append(PhiSpan(start, start + len(value), phi_type, 1.0, "test"))
        pos = start + len(value)
    return spans


def one(maker: SurrogateMaker, phi_type: str, value: str) -> str:
    return maker.surrogate(phi_type, value)


@pytest.fixture
def maker() -> SurrogateMaker:
    return SurrogateMaker(b"patient-0001-seed")


# --- modes and offsets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_offsets_point_at_original_and_replacement(mode, maker):
    result = replace_phi(NOTE, spans_for(NOTE, NOTE_PHI), mode, maker)
    assert len(result.replacements) == len(NOTE_PHI)
    for r, (value, phi_type) in zip(result.replacements, NOTE_PHI, strict=True):
        assert NOTE[r.start:r.end] == r.original == value
        assert result.text[r.new_start:r.new_end] == r.replacement
        assert r.type == phi_type
    assert "Follow-up" in result.text and result.text.endswith(result.replacements[-1].replacement + ".")


def test_redact_writes_types_in_brackets():
    text = "Seen by John Smith on 3/1/2023, phone 617-555-0142."
    spans = spans_for(text, [("John Smith", "NAME"), ("3/1/2023", "DATE"), ("617-555-0142", "PHONE")])
    assert replace_phi(text, spans, "redact").text == "Seen by [NAME] on [DATE], phone [PHONE]."


@pytest.mark.parametrize(("value", "masked"), [
    ("John Smith", "**** *****"),
    ("3/1/2023", "*/*/****"),
    ("(617) 555-0142", "(***) ***-****"),
    ("O'Brien-Hale", "*'*****-****"),
])
def test_mask_keeps_length_and_punctuation(value, masked):
    text = f"x {value} y"
    result = replace_phi(text, spans_for(text, [(value, "NAME")]), "mask")
    assert result.text == f"x {masked} y"
    assert len(result.text) == len(text)
    r = result.replacements[0]
    assert (r.new_start, r.new_end) == (r.start, r.end)


def test_no_spans_leaves_text_unchanged():
    assert replace_phi("no PHI here", [], "redact").text == "no PHI here"


def test_unknown_mode_names_accepted_modes():
    with pytest.raises(InputError) as err:
        replace_phi("John Smith", spans_for("John Smith", [("John Smith", "NAME")]), "scramble")
    message = str(err.value)
    assert all(mode in message for mode in MODES) and "John" not in message


def test_surrogate_mode_needs_a_maker():
    with pytest.raises(ValueError):
        replace_phi("John Smith", spans_for("John Smith", [("John Smith", "NAME")]), "surrogate")


@pytest.mark.parametrize("spans", [
    [PhiSpan(5, 10, "NAME", 1.0, "t"), PhiSpan(0, 4, "NAME", 1.0, "t")],
    [PhiSpan(0, 6, "NAME", 1.0, "t"), PhiSpan(5, 10, "NAME", 1.0, "t")],
    [PhiSpan(0, 99, "NAME", 1.0, "t")],
    [PhiSpan(3, 3, "NAME", 1.0, "t")],
    [PhiSpan(0, 4, "PASSWORD", 1.0, "t")],
])
def test_invalid_spans_raise_without_phi(spans):
    with pytest.raises(ValueError) as err:
        replace_phi("John Smith", spans, "redact")
    assert "John" not in str(err.value) and "Smith" not in str(err.value)


# --- names -----------------------------------------------------------------------------------------------------


def test_same_name_in_two_notes_gets_same_surrogate(maker):
    first = replace_phi(NOTE, spans_for(NOTE, NOTE_PHI), "surrogate", maker)
    other_note = "John Smith returns; Dr. Alice Wong reviewed."
    second = replace_phi(other_note, spans_for(other_note, [("John Smith", "NAME"), ("Alice Wong", "NAME")]),
                         "surrogate", SurrogateMaker(b"patient-0001-seed"))
    by_original = {r.original: r.replacement for r in first.replacements}
    assert [r.replacement for r in second.replacements] == [by_original["John Smith"], by_original["Alice Wong"]]


def test_other_patient_gets_other_surrogates(maker):
    other = SurrogateMaker(b"patient-0002-seed")
    values = ["John Smith", "Alice Wong", "Robert Garcia"]
    assert [one(maker, "NAME", v) for v in values] != [one(other, "NAME", v) for v in values]
    assert maker.date_offset_days != other.date_offset_days


def test_surrogates_are_the_same_in_another_process(maker):
    code = ("from carelm.deid.surrogates import SurrogateMaker as S; m = S(b'patient-0001-seed'); "
            "print(m.surrogate('NAME', 'John Smith'), m.surrogate('PHONE', '617-555-0142'), m.date_offset_days)")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    expected = f"{one(maker, 'NAME', 'John Smith')} {one(maker, 'PHONE', '617-555-0142')} {maker.date_offset_days}"
    assert out.strip() == expected


def test_first_name_is_consistent_across_forms(maker):
    first, last = one(maker, "NAME", "John Smith").split()
    assert one(maker, "NAME", "John") == first
    assert one(maker, "NAME", "Smith") == last
    assert one(maker, "NAME", "Smith, John") == f"{last}, {first}"
    assert one(maker, "NAME", "JOHN SMITH") == f"{first} {last}".upper()
    assert one(maker, "NAME", "Dr. John A. Smith, MD").split()[1] == first
    assert one(maker, "NAME", "  john  ") == f"  {first.lower()}  "


@pytest.mark.parametrize(("value", "pattern"), [
    ("SMITH", r"[A-Z][A-Z'\-]+"),
    ("smith", r"[a-z][a-z'\-]+"),
    ("Smith, John", r"[A-Z]\S+, [A-Z][a-z]+"),
    ("Dr. Alice Wong", r"Dr\. [A-Z][a-z]+ [A-Z]\S+"),
    ("J.S.", r"[A-Z]\.[A-Z]\."),
    ("JS", r"[A-Z]{2}"),
    ("J. Smith", r"[A-Z]\. [A-Z]\S+"),
    ("Mary-Kate Smith-Jones", r"[A-Z][a-z]+-[A-Z][a-z]+ [A-Z]\S+-[A-Z]\S+"),
    ("Mr. Smith Jr.", r"Mr\. [A-Z]\S+ Jr\."),
])
def test_name_shape_and_case_are_kept(maker, value, pattern):
    new = one(maker, "NAME", value)
    assert re.fullmatch(pattern, new), new
    assert new.casefold() != value.casefold()


def test_initials_follow_a_known_full_name(maker):
    first, last = one(maker, "NAME", "John Smith").split()
    assert one(maker, "NAME", "J.S.") == f"{first[0]}.{last[0]}."
    assert one(maker, "NAME", "JS") == f"{first[0]}{last[0]}"


# --- dates -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("3/14/2023", "3/4/2023"),
    ("03/14/2023", "03/04/2023"),
    ("3/14/23", "3/4/23"),
    ("3/1", "2/20"),
    ("2023-03-14", "2023-03-04"),
    ("20230314", "20230304"),
    ("March 14, 2023", "March 4, 2023"),
    ("Mar 14", "Mar 4"),
    ("14 Mar 2023", "4 Mar 2023"),
    ("14-MAR-2023", "4-MAR-2023"),
    ("Mar 13th", "Mar 3rd"),
    ("13th of March", "3rd of March"),
    ("MARCH 1ST, 2023", "FEBRUARY 19TH, 2023"),
    ("March 2023", "February 2023"),
    ("03/2023", "02/2023"),
    ("Mar '23", "Feb '23"),
    ("2015", "2014"),
    ("on the 15th", "on the 5th"),
    ("1/5/2023", "12/26/2022"),
    ("Tue 3/14/2023", "Sat 3/4/2023"),
    ("2023-03-14T08:30", "2023-03-04T08:30"),
])
def test_dates_shift_in_their_own_format(value, expected):
    assert one(SurrogateMaker(b"seed", date_offset_days=-10), "DATE", value) == expected


@pytest.mark.parametrize(("a", "fmt_a", "b", "fmt_b"), [
    ("3/1/2023", "%m/%d/%Y", "3/15/2023", "%m/%d/%Y"),
    ("3/1/2023", "%m/%d/%Y", "March 15, 2023", "%B %d, %Y"),
    ("2023-03-01", "%Y-%m-%d", "15 Mar 2023", "%d %b %Y"),
])
def test_date_shift_keeps_intervals_across_formats(maker, a, fmt_a, b, fmt_b):
    new_a = datetime.strptime(one(maker, "DATE", a), fmt_a)
    new_b = datetime.strptime(one(maker, "DATE", b), fmt_b)
    assert (new_b - new_a).days == 14
    assert (new_a - datetime.strptime(a, fmt_a)).days == maker.date_offset_days


def test_default_offset_is_in_range_and_never_zero():
    offsets = {SurrogateMaker(f"p{i}".encode()).date_offset_days for i in range(200)}
    assert all(-1095 <= o <= -30 for o in offsets) and len(offsets) > 100


def test_unparseable_date_gets_a_plausible_date(maker):
    new = one(maker, "DATE", "Thanksgiving")
    assert re.fullmatch(r"\d{1,2}/\d{1,2}", new)
    assert one(maker, "DATE", "Thanksgiving") == new


def test_year_alone_and_no_year_formats_change(maker):
    for value in ("2015", "Mar 3rd", "3rd of March", "March", "the 5th", "Tuesday"):
        assert one(maker, "DATE", value) != value


# --- ages and formatted identifiers ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("92 yo", "90+ yo"), ("95", "90+"), ("90 years", "90+ years"), ("101-year-old", "90+-year-old"),
    ("45", "45"), ("1100 months", "90+ months"), ("ninety-three", "90+"),
])
def test_ages_over_89_become_90_plus(maker, value, expected):
    assert one(maker, "AGE", value) == expected


@pytest.mark.parametrize(("phi_type", "value", "pattern"), [
    ("PHONE", "617-555-0142", r"[2-9]\d\d-[2-9]\d\d-\d{4}"),
    ("PHONE", "(617) 555-0142", r"\([2-9]\d\d\) [2-9]\d\d-\d{4}"),
    ("FAX", "+1 617.555.0142", r"\+1 [2-9]\d\d\.[2-9]\d\d\.\d{4}"),
    ("SSN", "123-45-6789", r"9\d\d-\d\d-\d{4}"),
    ("MRN", "MR-00482913", r"[A-Z]{2}-\d{8}"),
    ("ZIP", "02115", r"\d{5}"),
    ("ZIP", "02115-1234", r"\d{5}-\d{4}"),
    ("VEHICLE", "7abc123", r"\d[a-z]{3}\d{3}"),
    ("IP", "10.20.30.40", r"(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}"),
    ("EMAIL", "jsmith@mailbox.test", r"[\w.+-]+@example\.(com|org|net)"),
    ("URL", "https://portal.lakeview.test/p/1", r"https://example\.org/\w+"),
    ("STATE", "MA", r"[A-Z]{2}"),
    ("STATE", "Massachusetts", r"[A-Z][a-z]+( [A-Z][a-z]+)?"),
    ("HOSPITAL", "Lakeview General Hospital", r".+ General Hospital"),
    ("HOSPITAL", "Riverside Medical Center", r".+ Medical Center"),
    ("CITY", "SPRINGFIELD", r"[A-Z .'-]+"),
])
def test_formats_are_kept(maker, phi_type, value, pattern):
    new = one(maker, phi_type, value)
    assert re.fullmatch(pattern, new), new
    assert new != value


@pytest.mark.parametrize("seed", [b"a", b"b", b"c", b"d"])
def test_surrogate_never_equals_original(seed):
    maker = SurrogateMaker(seed)
    values = [("NAME", n) for n in ("Smith", "John", "James", "Lee", "Wong", "J.S.", "AB")] + [
        ("DATE", "2015"), ("DATE", "3/1"), ("ID", "7"), ("ZIP", "02115"), ("STATE", "TX"), ("CITY", "Springfield"),
        ("PHONE", "555-0142"), ("ACCOUNT", "A1"),
    ]
    for phi_type, value in values:
        assert one(maker, phi_type, value).casefold() != value.casefold(), (phi_type, value)


def test_same_value_in_another_format_gets_the_same_digits(maker):
    a, b = one(maker, "PHONE", "617-555-0142"), one(maker, "PHONE", "(617) 555 0142")
    assert re.sub(r"\D", "", a) == re.sub(r"\D", "", b)


def test_unknown_phi_type_is_rejected(maker):
    with pytest.raises(InputError):
        maker.surrogate("PASSWORD", "hunter2")


# --- mapping ---------------------------------------------------------------------------------------------------


def test_mapping_round_trip(maker):
    before = replace_phi(NOTE, spans_for(NOTE, NOTE_PHI), "surrogate", maker)
    data = json.loads(json.dumps(maker.mapping()))
    assert data["date_offset_days"] == maker.date_offset_days
    assert {(e["type"], e["original"]) for e in data["surrogates"]} == {(t, v) for v, t in NOTE_PHI}
    restored = SurrogateMaker.from_mapping(b"patient-0001-seed", data)
    after = replace_phi(NOTE, spans_for(NOTE, NOTE_PHI), "surrogate", restored)
    assert after.text == before.text
    assert one(restored, "NAME", "J.S.") == one(maker, "NAME", "J.S.")
    assert restored.mapping()["parts"] == maker.mapping()["parts"]


def test_mapping_keeps_an_explicit_offset():
    maker = SurrogateMaker(b"seed", date_offset_days=-45)
    restored = SurrogateMaker.from_mapping(b"seed", maker.mapping())
    assert restored.date_offset_days == -45


@pytest.mark.parametrize("data", [
    {},
    {"version": 1, "date_offset_days": 0},
    {"version": 1, "date_offset_days": -40, "surrogates": [{"type": "NAME", "original": 3}]},
    {"version": 1, "date_offset_days": -40, "surrogates": [{"type": "X", "original": "a", "surrogate": "b"}]},
])
def test_malformed_mapping_is_rejected(data):
    with pytest.raises(InputError):
        SurrogateMaker.from_mapping(b"seed", data)


def test_bad_seed_and_offset_are_rejected():
    with pytest.raises(ValueError):
        SurrogateMaker(b"")
    with pytest.raises(ValueError):
        SurrogateMaker(b"seed", date_offset_days=0)


def test_a_word_after_a_title_is_a_surname(maker):
    text = "Seen by Dr. Allen today; Allen Smith is the patient."
    result = replace_phi(text, spans_for(text, [("Allen", "NAME"), ("Allen Smith", "NAME")]), "surrogate", maker)
    surname = result.replacements[0].replacement
    assert surname == one(maker, "NAME", "Dr. Allen").removeprefix("Dr. ")
    assert result.text.startswith(f"Seen by Dr. {surname} today;")
    redacted = replace_phi(text, spans_for(text, [("Allen", "NAME")]), "redact")
    assert redacted.text.startswith("Seen by Dr. [NAME] today;")
