"""Model lab data readers: classification files, CoNLL/IOB, PubTator, tokens from PubTator, and splits."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from carelm.core.errors import InputError
from carelm.lab.data import (
    ClassifyExample,
    PubtatorDocument,
    PubtatorMention,
    PubtatorRelation,
    TokenExample,
    is_multilabel,
    label_set,
    pubtator_to_tokens,
    read_classification,
    read_conll,
    read_pubtator,
    split_examples,
    word_spans,
)

SECRET = "Zebrafinch reports a sore throat"


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- classification -------------------------------------------------------------------------------


def test_jsonl_single_multi_and_fallback_labels(tmp_path):
    path = _write(
        tmp_path,
        "train.jsonl",
        '{"id": 1, "text": "cough and fever", "label": "resp"}\n'
        "\n"
        '{"text": "rash", "label": ["derm", "allergy", "derm"]}\n'
        '{"id": "n3", "text": "itchy eyes", "labels": ["allergy"]}\n'
        '{"text": "score", "label": 2}\n',
    )
    examples = read_classification(path)
    assert examples == [
        ClassifyExample("cough and fever", ("resp",), "1"),
        ClassifyExample("rash", ("derm", "allergy"), None),
        ClassifyExample("itchy eyes", ("allergy",), "n3"),
        ClassifyExample("score", ("2",), None),
    ]
    assert label_set(examples) == ["2", "allergy", "derm", "resp"]
    assert is_multilabel(examples) and not is_multilabel(examples[:1])


def test_jsonl_custom_fields(tmp_path):
    path = _write(tmp_path, "t.ndjson", '{"body": "headache", "specialty": "neuro"}\n')
    assert read_classification(path, text_field="body", label_field="specialty") == [
        ClassifyExample("headache", ("neuro",))
    ]


def test_csv_and_tsv_with_multilabel_cells(tmp_path):
    csv_path = _write(
        tmp_path,
        "train.csv",
        'id,text,label\r\nA,"pain, left knee",ortho\r\n\r\nB,"two\nlines",ortho|rheum\r\nC,dry skin,derm; allergy\r\n',
    )
    assert read_classification(csv_path) == [
        ClassifyExample("pain, left knee", ("ortho",), "A"),
        ClassifyExample("two\nlines", ("ortho", "rheum"), "B"),
        ClassifyExample("dry skin", ("derm", "allergy"), "C"),
    ]
    tsv_path = _write(tmp_path, "train.tsv", "text\tlabels\nsneezing\tallergy\n")
    assert read_classification(tsv_path) == [ClassifyExample("sneezing", ("allergy",))]


def test_bom_is_ignored(tmp_path):
    path = _write(tmp_path, "bom.csv", b"\xef\xbb\xbftext,label\r\ncough,resp\r\n")
    assert read_classification(path) == [ClassifyExample("cough", ("resp",))]


BAD_CLASSIFICATION = [
    ("a.jsonl", '{"text": "ok", "label": "x"}\n{"text": "  ", "label": "x"}\n', 2, "field 'text': must be a non-empty"),
    ("a.jsonl", f'{{"text": "{SECRET}"}}\n', 1, "field 'label': required (or 'labels')"),
    ("a.jsonl", f'{{"text": "{SECRET}", "label": []}}\n', 1, "field 'label': expected a non-empty label"),
    ("a.jsonl", f'{{"text": "{SECRET}", "label": {{"a": 1}}}}\n', 1, "field 'label': expected a non-empty label"),
    ("a.jsonl", f'{{"text": "{SECRET}", "label": true}}\n', 1, "field 'label': expected a non-empty label"),
    ("a.jsonl", '\n\n{"text": "x", "label": \n', 3, "invalid JSON"),
    ("a.jsonl", f'["{SECRET}", "x"]\n', 1, "expected one JSON object per line"),
    ("a.csv", f"text,label\nfine,x\n{SECRET},\n", 3, "field 'label': expected a non-empty label"),
    ("a.csv", f"text,label\n,x\n{SECRET},y\n", 2, "field 'text': must be a non-empty string"),
    ("a.csv", f"text,label\n{SECRET},x,extra\n", 2, "expected 2 columns as in the header, found 3"),
    ("a.csv", f'text,label\n"two\nlines",x\n{SECRET},y,z\n', 4, "expected 2 columns"),
    ("a.csv", f"body,label\n{SECRET},x\n", 2, "field 'text'"),
    ("a.csv", "", 1, "expected a header row"),
    ("a.jsonl", b'{"text": "ok", "label": "x"}\n{"text": "caf\xe9", "label": "x"}\n', 2, "not valid UTF-8"),
]


@pytest.mark.parametrize(("name", "content", "line", "message"), BAD_CLASSIFICATION)
def test_classification_errors_name_the_line(tmp_path, name, content, line, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(InputError) as caught:
        read_classification(path)
    assert caught.value.location == f"{path}:{line}"
    assert message in caught.value.message
    assert "Zebrafinch" not in str(caught.value)


def test_unsupported_classification_file_type(tmp_path):
    path = _write(tmp_path, "train.xlsx", "x")
    with pytest.raises(InputError, match="accepted: .jsonl, .ndjson, .csv, .tsv"):
        read_classification(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read the file"):
        read_classification(tmp_path / "absent.jsonl")


# --- CoNLL / IOB ----------------------------------------------------------------------------------

CONLL = """-DOCSTART- -X- -X- O

Aspirin\tB-Chemical
eased\tO
the\tO
migraine\tB-Disease
headache\tI-Disease
.\tO

No NN B-NP O
fever NN I-NP B-Disease

"""


def test_read_conll_sentences_columns_and_docstart(tmp_path):
    examples = read_conll(_write(tmp_path, "x.tsv", CONLL))
    assert [e.tokens for e in examples] == [["Aspirin", "eased", "the", "migraine", "headache", "."], ["No", "fever"]]
    assert examples[0].tags == ["B-Chemical", "O", "O", "B-Disease", "I-Disease", "O"]
    assert examples[1].tags == ["O", "B-Disease"]
    assert sum(e.repaired_tags for e in examples) == 0


def test_read_conll_repairs_i_tags_that_open_an_entity(tmp_path, caplog):
    content = "I-Chemical\tI-Chemical\nx\tO\nrenal\tI-Disease\nfailure\tI-Disease\ny\tB-Chemical\nz\tI-Disease\n"
    with caplog.at_level(logging.WARNING, logger="carelm.lab.data"):
        [example] = read_conll(_write(tmp_path, "r.tsv", content))
    assert example.tags == ["B-Chemical", "O", "B-Disease", "I-Disease", "B-Chemical", "B-Disease"]
    assert example.repaired_tags == 3
    assert caplog.records[0].repaired_tags == 3


BAD_CONLL = [
    ("a\tO\nb\tB-\n", 2, "tag (last column) must be O, B-<type> or I-<type>"),
    ("a\tO\n\nb\tX-Disease\n", 3, "tag (last column)"),
    ("a\tO\nlonely\n", 2, "expected 'token<TAB>tag'"),
    ("a\tO\n\tO\n", 2, "expected 'token<TAB>tag'"),
]


@pytest.mark.parametrize(("content", "line", "message"), BAD_CONLL)
def test_conll_errors_name_the_line(tmp_path, content, line, message):
    path = _write(tmp_path, "bad.tsv", content)
    with pytest.raises(InputError) as caught:
        read_conll(path)
    assert caught.value.location == f"{path}:{line}"
    assert message in caught.value.message


# --- PubTator -------------------------------------------------------------------------------------

TITLE = "Vit. D deficiency after drug X therapy"
ABSTRACT = "We saw vit. D deficiency in 3 of 9 patients. Drug X caused rash. 2 cases were mild."
TEXT = f"{TITLE} {ABSTRACT}"


def _span(text: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    return start, start + len(needle)


def _pubtator(mention_lines: list[str] | None = None) -> str:
    rows = [
        ("Vit. D deficiency", "Disease", " D014808"),
        ("drug X", "Chemical", "C01"),
        ("vit. D deficiency", "Disease", "D014808"),
        ("Drug X", "Chemical", "C01"),
        ("rash", "Disease", "D005076|D012871\trash|skin rash"),
    ]
    lines = [f"77|t|{TITLE}", f"77|a|{ABSTRACT}"]
    for needle, kind, concept in rows:
        start, end = _span(TEXT, needle)
        lines.append(f"77\t{start}\t{end}\t{needle}\t{kind}\t{concept}")
    lines += mention_lines or ["77\tCID\tC01\tD005076"]
    return "\n" + "\n".join(lines) + "\n\n88|t|Short title\n88|a|\n"


def test_read_pubtator_documents_mentions_relations(tmp_path):
    first, second = read_pubtator(_write(tmp_path, "p.txt", _pubtator()))
    assert (first.id, first.title, first.abstract, first.text) == ("77", TITLE, ABSTRACT, TEXT)
    assert first.mentions[0] == PubtatorMention(0, 17, "Vit. D deficiency", "Disease", "D014808")
    assert first.mentions[-1].concept_id == "D005076|D012871"
    assert all(first.text[m.start : m.end] == m.text for m in first.mentions)
    assert first.relations == [PubtatorRelation("CID", "C01", "D005076")]
    assert (second.id, second.title, second.abstract, second.mentions) == ("88", "Short title", "", [])


def test_pubtator_mention_text_may_carry_spaces_at_its_ends(tmp_path):
    start, end = _span(TEXT, "rash")
    [document, _] = read_pubtator(_write(tmp_path, "p.txt", _pubtator([f"77\t{start}\t{end}\trash  \tDisease\tD1"])))
    assert document.mentions[-1] == PubtatorMention(start, end, "rash", "Disease", "D1")


BAD_PUBTATOR = [
    (["77\t0\t4\tVita\tDisease\tD1"], 9, "mention offsets 0-4 do not match the mention text of document 77"),
    (["77\t200\t204\trash\tDisease\tD1"], 9, "mention offsets 200-204"),
    (["77\t9\t9\t\tDisease\tD1"], 9, "mention offsets 9-9"),
    (["78\tCID\tC01\tD1"], 9, "annotation must follow its document's title and abstract"),
    (["77\tCID\tC01"], 9, "expected 'id|t|title'"),
    (["77\t5\tx\tDisease"], 9, "expected 'id|t|title'"),
    (["77|a|second abstract"], 9, "abstract of document 77 must follow its title line"),
]


@pytest.mark.parametrize(("extra", "line", "message"), BAD_PUBTATOR)
def test_pubtator_errors_name_the_line(tmp_path, extra, line, message):
    path = _write(tmp_path, "bad.txt", _pubtator(extra))
    with pytest.raises(InputError) as caught:
        read_pubtator(path)
    assert caught.value.location == f"{path}:{line}"
    assert message in caught.value.message
    assert "Vita" not in str(caught.value)


def test_pubtator_annotation_without_document(tmp_path):
    path = _write(tmp_path, "bad.txt", "5\t0\t4\tword\tDisease\tD1\n")
    with pytest.raises(InputError, match="annotation must follow") as caught:
        read_pubtator(path)
    assert caught.value.location == f"{path}:1"


WORDS = [
    ("", []),
    ("G6PD-deficient (n=3).", ["G6PD", "-", "deficient", "(", "n", "=", "3", ")", "."]),
    ("  two  spaces\tand\ttabs ", ["two", "spaces", "and", "tabs"]),
    ("Parkinson's 2.5mg", ["Parkinson", "'", "s", "2", ".", "5mg"]),
]


@pytest.mark.parametrize(("text", "words"), WORDS)
def test_word_spans(text, words):
    assert [text[a:b] for a, b in word_spans(text)] == words


def test_pubtator_to_tokens_sentences_offsets_and_tags(tmp_path):
    documents = read_pubtator(_write(tmp_path, "p.txt", _pubtator()))
    examples = pubtator_to_tokens(documents)
    by_id = {example.id: example for example in examples}
    assert list(by_id) == ["77:0", "77:1", "77:2", "77:3", "88:0"]
    for example in examples:
        assert example.text in (TEXT, "Short title ")
        assert [example.text[a:b] for a, b in example.offsets] == example.tokens
    # the title ends a sentence; "vit. D" inside a mention does not
    assert by_id["77:0"].tokens == ["Vit", ".", "D", "deficiency", "after", "drug", "X", "therapy"]
    assert by_id["77:0"].tags == "B-Disease I-Disease I-Disease I-Disease O B-Chemical I-Chemical O".split()
    assert by_id["77:1"].tokens[:6] == ["We", "saw", "vit", ".", "D", "deficiency"]
    assert by_id["77:2"].tokens == ["Drug", "X", "caused", "rash", "."]
    assert by_id["77:2"].tags == ["B-Chemical", "I-Chemical", "O", "B-Disease", "O"]
    assert by_id["77:3"].tokens == ["2", "cases", "were", "mild", "."]  # a digit after ". " opens a sentence too
    assert by_id["88:0"].tokens == ["Short", "title"]


def test_pubtator_to_tokens_partial_and_overlapping_mentions():
    text_title, abstract = "Antibiotic-associated colitis", "Seen with hyperkalemia."
    document = PubtatorDocument(
        "9",
        text_title,
        abstract,
        mentions=[
            PubtatorMention(0, 10, "Antibiotic", "Chemical", ""),
            PubtatorMention(0, 29, text_title, "Disease", ""),  # overlaps the first: the longer wins
            PubtatorMention(40, 45, "hyper", "Disease", ""),  # boundary inside a token: tagged anyway
        ],
    )
    first, second = pubtator_to_tokens([document])
    assert first.tags == ["B-Disease", "I-Disease", "I-Disease", "I-Disease"]
    assert second.tokens == ["Seen", "with", "hyperkalemia", "."]
    assert second.tags == ["O", "O", "B-Disease", "O"]


def test_pubtator_to_tokens_takes_a_tokenizer():
    mention = PubtatorMention(0, 13, "Heart failure", "Disease", "")
    document = PubtatorDocument("1", "Heart failure.", mentions=[mention])

    def whitespace(text: str) -> list[tuple[int, int]]:
        spans, start = [], None
        for i, char in enumerate(text + " "):
            if char.isspace() and start is not None:
                spans.append((start, i))
                start = None
            elif not char.isspace() and start is None:
                start = i
        return spans

    [example] = pubtator_to_tokens([document], tokenizer=whitespace)
    assert (example.tokens, example.tags) == (["Heart", "failure."], ["B-Disease", "I-Disease"])


# --- splits ---------------------------------------------------------------------------------------


def _tokens(n: int) -> list[TokenExample]:
    return [TokenExample([f"w{i}"], ["O"], id=f"doc{i // 3}:{i % 3}") for i in range(n)]


def test_split_is_deterministic_sized_and_order_preserving():
    examples = list(range(100))
    train, dev = split_examples(examples, 0.2, seed=7)
    assert (train, dev) == split_examples(examples, 0.2, seed=7)
    assert len(dev) == 20 and sorted(train + dev) == examples
    assert train == sorted(train) and dev == sorted(dev)
    assert split_examples(examples, 0.2, seed=8)[1] != dev


@pytest.mark.parametrize("seed", range(5))
def test_grouped_split_keeps_groups_together(seed):
    examples = _tokens(60)  # 20 documents of 3 sentences

    def document(example: TokenExample) -> str:
        return example.id.split(":")[0]

    train, dev = split_examples(examples, 0.25, seed=seed, groups=document)
    assert {document(e) for e in train}.isdisjoint({document(e) for e in dev})
    assert len(train) + len(dev) == 60
    assert 15 <= len(dev) <= 17


@pytest.mark.parametrize(("count", "fraction", "dev_size"), [(1, 0.5, 0), (2, 0.1, 1), (10, 0.01, 1), (10, 0.99, 9)])
def test_split_edge_sizes(count, fraction, dev_size):
    train, dev = split_examples(list(range(count)), fraction, seed=0)
    assert len(dev) == dev_size and len(train) == count - dev_size


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_split_rejects_fractions_outside_0_1(fraction):
    with pytest.raises(ValueError, match="dev_fraction"):
        split_examples([1, 2, 3], fraction, seed=0)
