"""Relation-extraction examples: DDI 2013 XML and BC5CDR PubTator fixtures written here, marking, labels, groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from carelm.core.errors import ConfigError, InputError
from carelm.kg.relations import RelationExample, cid_examples, ddi_examples, mark
from carelm.lab.data import ClassifyExample, label_set, split_examples

# --- marking -------------------------------------------------------------------------------------
TEXT = "Drug A raises drug B and drug C."  # A at 5, B at 19, C at 30


@pytest.mark.parametrize(
    ("spans", "blinded", "expected"),
    [
        ([(0, 6, "e1"), (14, 20, "e2")], None, "<e1>Drug A</e1> raises <e2>drug B</e2> and drug C."),
        ([(0, 6, "e1"), (14, 20, "e2"), (25, 31, "other")], None,
         "<e1>Drug A</e1> raises <e2>drug B</e2> and drug C."),
        ([(0, 6, "e1"), (14, 20, "e2"), (25, 31, "other")], {"e1": "D1", "e2": "D2", "other": "D0"},
         "D1 raises D2 and D0."),
        ([(25, 31, "e1"), (0, 6, "e2")], {"e1": "D1", "e2": "D2"}, "D2 raises drug B and D1."),
        # an argument wins over an overlapping other span, and the earlier of two others wins
        ([(14, 20, "other"), (19, 20, "e1"), (0, 6, "other"), (5, 10, "other")], {"e1": "X", "other": "O"},
         "O raises drug X and drug C."),
    ],
)
def test_mark_wraps_or_replaces_spans(spans, blinded, expected):
    assert mark(TEXT, spans, blinded) == expected


def test_mark_collapses_whitespace_after_marking():
    assert mark("  one\r\n two  ", [(2, 5, "e1")]) == "<e1>one</e1> two"


# --- DDI 2013 ------------------------------------------------------------------------------------
def _entity(sentence_id: str, number: int, text: str, word: str, extra: str = "") -> str:
    start = text.index(word)
    offsets = f"{start}-{start + len(word) - 1}{extra}"
    return f'<entity id="{sentence_id}.e{number}" charOffset="{offsets}" type="drug" text="{word}"/>'


def _pair(sentence_id: str, number: int, first: int, second: int, attributes: str) -> str:
    return (f'<pair id="{sentence_id}.p{number}" e1="{sentence_id}.e{first}" e2="{sentence_id}.e{second}" '
            f"{attributes}/>")


S0 = "Warfarin levels rise when given with fluconazole or aspirin."
S1 = "Beta and alpha blockers interact with clonidine."


def _ddi_document(doc_id: str = "DDI-Test.d1") -> str:
    s0, s1, s2 = f"{doc_id}.s0", f"{doc_id}.s1", f"{doc_id}.s2"
    blockers = S1.index("blockers")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<document id="{doc_id}">
    <sentence id="{s0}" text="{S0}">
        {_entity(s0, 0, S0, "Warfarin")}
        {_entity(s0, 1, S0, "fluconazole")}
        {_entity(s0, 2, S0, "aspirin")}
        {_pair(s0, 0, 0, 1, 'ddi="true" type="mechanism"')}
        {_pair(s0, 1, 0, 2, 'ddi="true"')}
        {_pair(s0, 2, 1, 2, 'ddi="false"')}
    </sentence>
    <sentence id="{s1}" text="{S1}">
        <entity id="{s1}.e0" charOffset="0-3;{blockers}-{blockers + 7}" type="group" text="Beta blockers"/>
        {_entity(s1, 1, S1, "clonidine")}
        {_pair(s1, 0, 0, 1, 'ddi="true" type="effect"')}
    </sentence>
    <sentence id="{s2}" text="No interaction studies were done.&#xd;&#xa;"/>
</document>
"""


@pytest.fixture
def ddi_folder(tmp_path) -> Path:
    (tmp_path / "Train" / "MedLine").mkdir(parents=True)
    (tmp_path / "Train" / "DrugBank").mkdir()
    (tmp_path / "Train" / "DrugBank" / "Warfarin_ddi.xml").write_text(_ddi_document(), encoding="utf-8")
    (tmp_path / "Train" / "MedLine" / "1.xml").write_text(_ddi_document("DDI-Test.d2"), encoding="utf-8")
    return tmp_path / "Train"


def test_ddi_pairs_are_blinded_with_labels_ids_and_groups(ddi_folder):
    examples = list(ddi_examples(ddi_folder / "DrugBank"))
    assert examples == [
        RelationExample("DRUG1 levels rise when given with DRUG2 or DRUG0.", ("mechanism",), "DDI-Test.d1.s0.p0",
                        "DDI-Test.d1"),
        RelationExample("DRUG1 levels rise when given with DRUG0 or DRUG2.", ("int",), "DDI-Test.d1.s0.p1",
                        "DDI-Test.d1"),  # ddi="true" without a type
        RelationExample("DRUG0 levels rise when given with DRUG1 or DRUG2.", ("none",), "DDI-Test.d1.s0.p2",
                        "DDI-Test.d1"),
        RelationExample("DRUG1 and alpha blockers interact with DRUG2.", ("effect",), "DDI-Test.d1.s1.p0",
                        "DDI-Test.d1"),  # a discontinuous entity is marked on its first fragment
    ]
    assert all(isinstance(example, ClassifyExample) for example in examples)
    assert label_set(examples) == ["effect", "int", "mechanism", "none"]


def test_ddi_tags_mark_the_exact_entity_offsets(ddi_folder):
    first = next(ddi_examples(ddi_folder / "DrugBank", marking="tags"))
    assert first.text == "<e1>Warfarin</e1> levels rise when given with <e2>fluconazole</e2> or aspirin."


def test_ddi_reads_folders_recursively_in_name_order_and_splits_by_document(ddi_folder):
    examples = list(ddi_examples(ddi_folder))
    assert [e.group for e in examples] == ["DDI-Test.d1"] * 4 + ["DDI-Test.d2"] * 4
    train, dev = split_examples(examples, 0.5, seed=3, groups=lambda e: e.group)
    assert train and dev and not {e.group for e in train} & {e.group for e in dev}


@pytest.mark.parametrize(
    ("change", "message", "where"),
    [
        (lambda x: x.replace('charOffset="0-7"', 'charOffset="1-8"'), "does not match", "<entity id="),
        (lambda x: x.replace('charOffset="0-7"', 'charOffset="zero"'), "charOffset", "<entity id="),
        (lambda x: x.replace('charOffset="0-7"', 'charOffset="0-700"'), "outside", "<entity id="),
        (lambda x: x.replace('e2="DDI-Test.d1.s0.e1"', 'e2="DDI-Test.d1.s0.e9"'), "two different", "<pair id="),
        (lambda x: x.replace('type="mechanism"', 'type="synergy"'), "not one of", "<pair id="),
        (lambda x: x.replace('ddi="false"', 'ddi="maybe"'), "'true' or 'false'", "<pair id="),
        (lambda x: x.replace('<document id="DDI-Test.d1">', "<document>"), "needs an 'id'", "<document>"),
    ],
)
def test_bad_ddi_elements_name_file_and_element(tmp_path, change, message, where):
    path = tmp_path / "bad.xml"
    path.write_text(change(_ddi_document()), encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        list(ddi_examples(path))
    assert caught.value.location.startswith(f"{path}: {where}")


def test_malformed_ddi_xml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text(_ddi_document().replace("</sentence>\n    <sentence", "\n    <sentence", 1), encoding="utf-8")
    with pytest.raises(InputError, match="malformed XML") as caught:
        list(ddi_examples(path))
    assert caught.value.location.startswith(f"{path}:") and caught.value.location.rsplit(":", 1)[1].isdigit()


def test_ddi_needs_xml_files_and_a_known_marking(tmp_path):
    with pytest.raises(InputError, match="no DDI XML files"):
        list(ddi_examples(tmp_path))
    with pytest.raises(ConfigError, match="tags, blind"):
        list(ddi_examples(tmp_path, marking="bold"))


# --- BC5CDR chemical-induced disease -------------------------------------------------------------
TITLE = "Lidocaine-induced seizures in a child."
ABSTRACT = ("A boy given lidocaine developed seizures and later hypotension. "
            "Propofol and an opioid were used for sedation; no rash occurred.")
MENTIONS = [  # (word, occurrence, type, concept)
    ("Lidocaine", 0, "Chemical", "D008012"), ("seizures", 0, "Disease", "D012640"),
    ("lidocaine", 0, "Chemical", "D008012"), ("seizures", 1, "Disease", "D012640"),
    ("hypotension", 0, "Disease", "D007022"), ("Propofol", 0, "Chemical", "D015742"),
    ("opioid", 0, "Chemical", "-1"), ("rash", 0, "Disease", "D005076|D001919"),
]


def _pubtator(tmp_path: Path) -> Path:
    text = f"{TITLE} {ABSTRACT}"
    lines = [f"100|t|{TITLE}", f"100|a|{ABSTRACT}"]
    for word, occurrence, kind, concept in MENTIONS:
        start = -1
        for _ in range(occurrence + 1):
            start = text.index(word, start + 1)
        lines.append(f"100\t{start}\t{start + len(word)}\t{word}\t{kind}\t{concept}")
    lines += ["100\tCID\tD008012\tD012640", "100\tCID\tD008012\tD007022"]
    path = tmp_path / "cdr.txt"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def test_cid_pairs_cover_every_concept_pair_with_labels(tmp_path):
    examples = {e.id: e for e in cid_examples(_pubtator(tmp_path))}
    chemicals, diseases = ("D008012", "D015742"), ("D001919", "D005076", "D007022", "D012640")
    assert set(examples) == {f"100:{c}:{d}" for c in chemicals for d in diseases}  # "-1" is no concept
    positive = {key for key, e in examples.items() if e.labels == ("CID",)}
    assert positive == {"100:D008012:D012640", "100:D008012:D007022"}
    assert {e.group for e in examples.values()} == {"100"}
    assert all(e.labels in (("CID",), ("none",)) for e in examples.values())


def test_cid_text_is_the_shared_sentences_with_marked_mentions(tmp_path):
    examples = {e.id: e for e in cid_examples(_pubtator(tmp_path))}
    assert examples["100:D008012:D012640"].text == (
        "<e1>Lidocaine</e1>-induced <e2>seizures</e2> in a child. "
        "A boy given <e1>lidocaine</e1> developed <e2>seizures</e2> and later hypotension.")
    assert examples["100:D015742:D001919"].text == (
        "<e1>Propofol</e1> and an opioid were used for sedation; no <e2>rash</e2> occurred.")
    # no shared sentence: the closest sentence of each, in document order
    assert examples["100:D008012:D005076"].text == (
        "A boy given <e1>lidocaine</e1> developed seizures and later hypotension. "
        "Propofol and an opioid were used for sedation; no <e2>rash</e2> occurred.")


def test_cid_blinding_and_sentence_scope(tmp_path):
    path = _pubtator(tmp_path)
    blinded = {e.id: e for e in cid_examples(path, marking="blind")}
    assert blinded["100:D008012:D007022"].text == "A boy given CHEMICAL developed seizures and later DISEASE."
    in_sentences = {e.id for e in cid_examples(path, scope="sentence")}
    assert in_sentences == {"100:D008012:D012640", "100:D008012:D007022", "100:D015742:D001919",
                            "100:D015742:D005076"}
    with pytest.raises(ConfigError, match="sentence, document"):
        list(cid_examples(path, scope="paragraph"))


def test_bad_pubtator_lines_name_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(f"5|t|{TITLE}\n5|a|{ABSTRACT}\n5\t0\t5\tLido\tChemical\tD1\n", encoding="utf-8")
    with pytest.raises(InputError, match="do not match") as caught:
        list(cid_examples(path))
    assert caught.value.location == f"{path}:3"
