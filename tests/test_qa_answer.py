"""Grounded answers over made-up passages: exact citations, abstention, and generated answers kept to citations."""

from __future__ import annotations

import pytest

from carelm.core.errors import InputError
from carelm.core.types import Passage
from carelm.generate.qa import NOT_ENOUGH_EVIDENCE, answer
from carelm.generate.qa_text import split_sentences

NOTE_A = ("Progress note.\nThe patient reports chest pain on exertion for two weeks. Lisinopril 10 mg daily was "
          "started for hypertension. She denies fever or chills.\nPlan: recheck blood pressure in four weeks.")
NOTE_B = "Discharge summary. Metformin was continued for type 2 diabetes. HbA1c was 7.9% on admission."
ABSTRACT = ("Aspirin and colorectal adenoma\nIn this trial, daily aspirin reduced the recurrence of colorectal "
            "adenomas by 19% compared with placebo. Bleeding events were rare.")
DOCUMENTS = {"note-a": NOTE_A, "note-b": NOTE_B, "pmid-1": ABSTRACT}


def passage(document_id: str, start: int, end: int, scope: str = "records") -> Passage:
    text = DOCUMENTS[document_id][start:end]
    return Passage(f"{document_id}:{start}", document_id, text, scope, start, end)


PASSAGES = [
    passage("note-a", 15, len(NOTE_A)),  # a chunk that does not start at the document's beginning
    passage("note-b", 0, len(NOTE_B)),
    passage("pmid-1", 31, len(ABSTRACT), scope="literature"),
]


class ScriptedBackend:
    """A stand-in for a language-model server that always gives the same reply."""

    name = "scripted"
    external = False

    def __init__(self, reply: str):
        self.reply = reply
        self.prompts: list[list[dict]] = []

    def complete(self, messages, *, max_tokens=256, temperature=0.0):
        self.prompts.append(messages)
        return self.reply


def assert_resolves(result):
    for c in result.citations:
        assert DOCUMENTS[c.document_id][c.start : c.end] == c.quote


def test_sentences_keep_exact_offsets():
    for s in split_sentences(NOTE_A):
        assert NOTE_A[s.start : s.end] == s.text
    assert [s.text for s in split_sentences("No rash. Mild cough.")] == ["No rash.", "Mild cough."]


@pytest.mark.parametrize(("question", "document_id", "quote"), [
    ("What medication was started for hypertension?", "note-a", "Lisinopril 10 mg daily was started for hypertension."),
    ("Which drug is used for her diabetes?", "note-b", "Metformin was continued for type 2 diabetes."),
    ("Does aspirin reduce colorectal adenoma recurrence?", "pmid-1",
     "In this trial, daily aspirin reduced the recurrence of colorectal adenomas by 19% compared with placebo."),
])
def test_answer_quotes_the_sentence_that_answers(question, document_id, quote):
    result = answer(question, PASSAGES)
    assert not result.abstained
    assert result.citations[0].document_id == document_id
    assert result.citations[0].quote == quote
    assert result.text.startswith(quote + " [1]")
    assert 0.35 <= result.confidence <= 1.0
    assert_resolves(result)
    if document_id == "pmid-1":
        assert result.citations[0].scope == "literature"


def test_every_answer_sentence_is_a_cited_quote():
    result = answer("Which medications were started or continued for hypertension and diabetes?", PASSAGES)
    assert result.citations
    for n, c in enumerate(result.citations, start=1):
        assert f"{c.quote} [{n}]" in result.text
    assert_resolves(result)


@pytest.mark.parametrize("question", ["What is the capital of France?", "Who won the football match yesterday?"])
def test_unrelated_passages_abstain(question):
    result = answer(question, PASSAGES)
    assert result.abstained and result.text == NOT_ENOUGH_EVIDENCE
    assert result.citations == [] and result.confidence < 0.35


def test_no_passages_abstains_and_bad_question_is_refused():
    assert answer("What medication was started?", []).abstained
    with pytest.raises(InputError, match="question"):
        answer("   ", PASSAGES)
    with pytest.raises(InputError, match="min_confidence"):
        answer("What medication?", PASSAGES, min_confidence=2)


def test_lexical_scoring_alone_still_answers_and_abstains():
    found = answer("What medication was started for hypertension?", PASSAGES, use_embeddings=False)
    assert found.citations[0].quote.startswith("Lisinopril") and not found.abstained
    assert answer("What is the capital of France?", PASSAGES, use_embeddings=False).abstained


def test_generated_answer_keeps_only_cited_sentences():
    backend = ScriptedBackend("Lisinopril was started for her hypertension [1]. She is a keen gardener. "
                              "It was given daily [1, 9].")
    result = answer("What medication was started for hypertension?", PASSAGES, backend=backend)
    prompt = backend.prompts[0][1]["content"]
    assert "[1] Lisinopril 10 mg daily was started for hypertension." in prompt
    assert result.text == "Lisinopril was started for her hypertension. [1] It was given daily. [1]"
    assert "gardener" not in result.text
    assert [c.quote for c in result.citations] == ["Lisinopril 10 mg daily was started for hypertension."]
    assert_resolves(result)


def test_generated_answer_citing_nothing_valid_falls_back_to_the_extractive_answer():
    backend = ScriptedBackend("The patient takes lisinopril [7]. It works well.")
    result = answer("What medication was started for hypertension?", PASSAGES, backend=backend)
    assert result.text == "Lisinopril 10 mg daily was started for hypertension. [1]"
    assert_resolves(result)


def test_generated_refusal_abstains_and_weak_evidence_never_reaches_the_backend():
    refusing = ScriptedBackend("NOT ENOUGH EVIDENCE")
    assert answer("What medication was started for hypertension?", PASSAGES, backend=refusing).abstained
    unused = ScriptedBackend("Paris [1].")
    assert answer("What is the capital of France?", PASSAGES, backend=unused).abstained
    assert unused.prompts == []


def test_a_model_copying_numbered_evidence_lines_is_understood():
    """The extractive backend answers by copying "[n] sentence" lines: the leading numbers are its citations."""
    from carelm.generate.backends import ExtractiveBackend
    from carelm.generate.qa import rank_evidence
    from carelm.generate.qa_generate import generated_answer

    question = "What medication was started for hypertension?"
    evidence = [e for e in rank_evidence(question, PASSAGES) if e.score >= 0.35]
    result = generated_answer(question, evidence, ExtractiveBackend())
    assert result is not None and result.text == "Lisinopril 10 mg daily was started for hypertension. [1]"
    assert_resolves(result)


def test_markers_after_a_sentence_belong_to_it():
    backend = ScriptedBackend("Lisinopril was started. [1] Metformin was continued [2]. Dose 10 mg daily. [1, 7]")
    result = answer("Which medications were started or continued for hypertension and diabetes?", PASSAGES,
                    backend=backend)
    assert not result.abstained and len(result.citations) == 2
    quotes = {c.quote.split()[0]: n for n, c in enumerate(result.citations, start=1)}
    assert result.text == (f"Lisinopril was started. [{quotes['Lisinopril']}] Metformin was continued. "
                           f"[{quotes['Metformin']}] Dose 10 mg daily. [{quotes['Lisinopril']}]")
