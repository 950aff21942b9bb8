"""Tokens and per-note token facts of de-identification: the fast paths agree with the plain definitions."""

from __future__ import annotations

import pytest

from carelm.deid.base import TOKEN_RE, DeidDoc, token_offsets
from carelm.deid.lexicon import LOWER_NOTE, LOWER_WORDS, WORD, lexicon, token_view

TEXTS = [
    "",
    "   \n\t ",
    "Pt seen by Dr. Okonkwo 3/14, BP 120/80; SpO2 95% on 2L NC.",
    "  leading blanks,\ttabs\nand\n\n\nblank lines  ",
    "O'Neil's tan-colored sxn'd, re-eval -- x2 w/ #5 _under_score_",
    "DAUGHTER-KRISSY CALLED. MR B REMAINS ON AC 500X14.",
    "Zoë Ångström née Čapek, café crème ½ dose, ²nd, İstanbul, straße",
    "unit\x1cseparator and\u00a0no-break space, em\u2014dash",
]


@pytest.mark.parametrize("text", TEXTS)
def test_token_offsets_are_the_regex_tokens(text):
    found = [(m.group(), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
    texts, starts, ends = token_offsets(text)
    assert list(zip(texts, starts, ends, strict=True)) == found
    assert [(t.text, t.start, t.end) for t in DeidDoc(text).tokens] == found


@pytest.mark.parametrize("text", [*TEXTS, "ALL CAPS NOTE, BP OK.", "ÉTÉ À PARIS ÇA VA", "Mixed Ünïcode Words"])
def test_mostly_upper_counts_letters(text):
    letters = [c for c in text if c.isalpha()]
    expected = bool(letters) and sum(c.isupper() for c in letters) / len(letters) > 0.7
    assert DeidDoc(text).mostly_upper is expected


# Numbers, punctuation, possessives, compounds, inflections, near misses, names, clinical words, unknown words.
WORDS = "5 123 , - ' _ ² 's children's o'neil tan-colored sxn'd suctioning suctionings reevaluated swolen".split()
WORDS += "maureen white perrla nicholsonian xqzvw".split()


@pytest.mark.parametrize("word", WORDS)
def test_token_kind_is_the_kind(word):
    lex = lexicon()
    assert lex.token_kind(word) == lex.kind(word)
    assert lex.token_kind(word) == lex.kind(word)  # again, now that inflections are remembered


def _title_ratio(texts: list[str], newline: list[bool], inside: bool) -> float:
    """The share of capitalised words (of words inside sentences when ``inside``), one token at a time."""
    count = title = 0
    for i, text in enumerate(texts):
        if len(text) < 2 or not text[0].isalpha():
            continue
        if inside and (newline[i] or (i and texts[i - 1] in ".:;!?")):
            continue
        count += 1
        title += text[0].isupper() and not text.isupper()
    return title / count if count else 0.0


@pytest.mark.parametrize(
    "text",
    [
        *TEXTS,
        "wife aware. pt resting. plan: cont lasix.\nson called; will visit tomorrow!",
        "Seen by Dr. Okonkwo. Wife Margaret at bedside.\nPlan discussed with Patel.",
        "resting quietly. mr. castellano remains intubated on ac. Family In To Visit.",
    ],
)
def test_token_view_facts(text):
    doc = DeidDoc(text)
    view = token_view(doc)
    texts = [t.text for t in doc.tokens]
    newline = [i == 0 or "\n" in text[doc.tokens[i - 1].end : t.start] for i, t in enumerate(doc.tokens)]
    assert view.texts == texts and view.low == [t.lower() for t in texts]
    assert view.newline_before == newline
    lex, tokens = lexicon(), doc.tokens
    kinds = [lex.kind(t.lower()) for t in texts]
    for i in range(len(tokens) - 1):
        glued = tokens[i + 1].start == tokens[i].end and texts[i + 1].isdigit()
        if glued and lex.known(texts[i].lower() + texts[i + 1]):
            kinds[i] = WORD
    assert view.kind == kinds
    assert view.positions == {w: [i for i, t in enumerate(texts) if t.lower() == w] for w in set(view.low)}
    caseless = doc.mostly_upper or _title_ratio(texts, newline, False) < LOWER_NOTE
    assert view.caseless is caseless
    assert view.lower_ok is (caseless or _title_ratio(texts, newline, True) < LOWER_WORDS)
