"""Language-model backends on real parts: the extractive generator, a tiny GPT-2 trained here with the model
lab and loaded from disk, the factory, the PHI guard, and the openai client against real HTTP servers."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from carelm.core.errors import BackendError, ConfigError, InputError, PolicyError
from carelm.generate.backend_extractive import ExtractiveBackend, sentences
from carelm.generate.backend_openai import OpenAIBackend
from carelm.generate.backend_transformers import TransformersBackend, fit_window
from carelm.generate.backends import backend_from, make_backend
from carelm.generate.policy import GuardedBackend, PhiGuard, guarded
from tests.server import free_port, serving

TINY_GPT2 = {"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2}
WORDS = ["patient", "reports", "cough", "fever", "stable", "denies", "pain", "chest", "wheezing", "albuterol",
         "follow", "up", "clinic", "today", "improved", "breathing", "inhaler", "night"]
CONTEXT = ("Seen by Dr. Lee in clinic today. The patient has asthma since childhood. She takes albuterol 2.5 mg "
           "as needed.\nAllergies: penicillin (rash). Blood pressure was 128/82. Plan: continue inhalers.")


def tiny_lm_folder(tmp_path_factory) -> Path:
    """A tiny GPT-2 pretrained for two epochs on made-up clinical word salad (once per test session)."""
    from carelm.lab.lm import train_lm
    from carelm.lab.trainer import TrainConfig

    root = tmp_path_factory.getbasetemp() / "tiny-lm"
    if (root / "model" / "carelm-model.json").is_file():
        return root / "model"
    root.mkdir(exist_ok=True)
    (root / "tiny-gpt2.json").write_text(json.dumps(TINY_GPT2))
    rng = random.Random(7)
    texts = [" ".join(rng.choice(WORDS) for _ in range(40)) + "." for _ in range(24)]
    config = TrainConfig(learning_rate=3e-3, epochs=2, batch_size=4, max_length=32, seed=1)
    result = train_lm(texts, root / "model", base=str(root / "tiny-gpt2.json"), config=config)
    return Path(result.path)


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    return tiny_lm_folder(tmp_path_factory)


def chat(*contents: str, roles: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    roles = roles or ("system",) * (len(contents) - 1) + ("user",)
    return [{"role": role, "content": text} for role, text in zip(roles, contents, strict=True)]


@pytest.mark.parametrize(("question", "expected"), [
    ("What medications does she take?", "She takes albuterol 2.5 mg as needed."),
    ("What is she allergic to?", "Allergies: penicillin (rash)."),
    ("Since when has she had asthma, and what is the plan for inhalers?",
     "The patient has asthma since childhood. Plan: continue inhalers."),  # document order, not score order
    ("What was the weather like?", ""),  # nothing matches: an empty reply, never invented text
])
def test_extractive_answers_with_sentences_of_the_context(question, expected) -> None:
    assert ExtractiveBackend().complete(chat(CONTEXT, question)) == expected


def test_extractive_reads_context_and_question_in_one_message_and_ignores_assistant_turns() -> None:
    backend = ExtractiveBackend()
    assert backend.complete(chat(CONTEXT + " What is she allergic to?", roles=("user",))) == \
        "Allergies: penicillin (rash)."
    turns = chat("Penicillin allergy is common.", "The patient has asthma.", "What allergy does she have?",
                 roles=("assistant", "system", "user"))
    assert backend.complete(turns) == ""  # the assistant's sentence is never quoted
    short = backend.generate(chat(CONTEXT, "What medications does she take?"), max_tokens=3)
    assert short.text == "She takes albuterol" and short.finish_reason == "length" and short.completion_tokens == 3
    assert sentences("Seen by Dr. Lee. BP 2.5 fine!\nNext") == [(0, 16), (17, 29), (30, 34)]
    with pytest.raises(InputError):
        backend.complete([{"role": "tool", "content": "x"}])


def test_extractive_never_emits_text_absent_from_its_input() -> None:
    rng = random.Random(3)
    backend = ExtractiveBackend()
    answered = 0
    for _ in range(200):
        context = " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))).capitalize()
                           + rng.choice([".", "!", "?", ". Dr.", ";"]) for _ in range(rng.randint(1, 8)))
        question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5))) + "?"
        messages = chat(context, question)
        reply = backend.generate(messages, max_tokens=rng.randint(1, 40))
        pieces = [messages[s.message]["content"][s.start : s.end] for s in backend.select(messages)]
        assert all(piece in context for piece in pieces)
        # the reply is those sentences joined by single spaces (the last possibly cut after a word)
        assert " ".join(pieces).startswith(reply.text)
        assert reply.completion_tokens <= 40 and reply.text == reply.text.strip()
        answered += bool(reply.text)
    assert answered > 100

def test_transformers_backend_loads_a_lab_model_and_decodes_greedily(lm_folder) -> None:
    backend = TransformersBackend(lm_folder)
    messages = chat("The patient reports cough and fever.", "What does the patient report?")
    first = backend.generate(messages, max_tokens=8)
    assert first.text and first.completion_tokens == 8 and first.finish_reason == "length"
    assert backend.complete(messages, max_tokens=8) == first.text  # greedy: the same reply every time
    long = backend.generate(chat("cough " * 200), max_tokens=300)  # far past the 32-token window
    assert long.prompt_tokens == 16 and long.completion_tokens == 16
    sampled = backend.generate(messages, max_tokens=8, temperature=1.5)
    assert sampled.completion_tokens <= 8
    assert fit_window(list(range(5)), 10, 32) == (10, list(range(5)))
    assert fit_window(list(range(40)), 300, 32) == (16, list(range(24, 40)))


def test_transformers_backend_refuses_folders_that_are_not_causal_lms(tmp_path, lm_folder) -> None:
    with pytest.raises(ConfigError, match="not found"):
        TransformersBackend(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        TransformersBackend(tmp_path / "empty")
    tagger = tmp_path / "tagger"
    tagger.mkdir()
    config = {"model_type": "bert", "architectures": ["BertForTokenClassification"]}
    (tagger / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="not a causal language model"):
        TransformersBackend(tagger)
    (tagger / "carelm-model.json").write_text(json.dumps({"kind": "carelm-model", "task": "ner"}))
    with pytest.raises(ConfigError, match="'ner' model"):
        TransformersBackend(tagger)


def test_factory_chooses_by_settings_and_always_guards_external_backends(settings, lm_folder) -> None:
    assert isinstance(make_backend(settings), ExtractiveBackend)
    local = make_backend(settings.model_copy(update={"llm_backend": "transformers", "llm_model": str(lm_folder)}))
    assert isinstance(local, TransformersBackend) and not local.external
    assert make_backend(settings.model_copy(update={"llm_backend": "transformers", "llm_model": str(lm_folder)})) \
        is local  # one warm model per folder
    with pytest.raises(ConfigError, match="CARELM_LLM_MODEL"):
        make_backend(settings.model_copy(update={"llm_backend": "transformers"}))
    with pytest.raises(ConfigError, match="CARELM_LLM_BASE_URL"):
        make_backend(settings.model_copy(update={"llm_backend": "openai", "llm_model": "m"}))
    remote = make_backend(settings.model_copy(update={"llm_backend": "openai", "llm_model": "m",
                                                      "llm_base_url": "http://127.0.0.1:9/v1"}))
    assert remote.external and isinstance(remote.phi_guard, PhiGuard) and remote.phi_guard.policy == "refuse"
    with pytest.raises(ConfigError, match="PHI guard"):
        OpenAIBackend("http://127.0.0.1:9/v1", "m", external=True)
    with pytest.raises(ConfigError, match="accepted: extractive, transformers, openai"):
        backend_from("gpt")


class OutsideBackend:
    """A third-party backend that sends text elsewhere: it keeps what reaches it."""

    name = "outside"
    external = True

    def __init__(self) -> None:
        self.received: list[list[dict]] = []

    def complete(self, messages, *, max_tokens=256, temperature=0.0) -> str:
        self.received.append(messages)
        return "ok"


PHI_MESSAGE = "Patient Zelda Quorvan (MRN 48213977), born 03/14/1961, phone 617-555-0142, has asthma."
PHI_STRINGS = ("Zelda", "Quorvan", "48213977", "03/14/1961", "617-555-0142")


def test_guard_refuses_or_redacts_identifiers_before_any_external_call(settings, caplog) -> None:
    outside = OutsideBackend()
    refusing = guarded(outside, settings)
    assert isinstance(refusing, GuardedBackend) and guarded(refusing, settings) is refusing
    with pytest.raises(PolicyError) as refused:
        refusing.complete(chat(PHI_MESSAGE, "What inhaler does she use?"))
    assert outside.received == []  # nothing left
    error = refused.value
    assert error.code == "policy_refused" and error.details[0]["location"] == "messages[0]"
    shown = str(error) + json.dumps(error.details) + caplog.text
    assert all(label in error.details[0]["message"] for label in ("NAME", "MRN", "DATE", "PHONE"))
    assert not any(phi in shown for phi in PHI_STRINGS)
    assert refusing.complete(chat("The patient has asthma.", "What does she have?")) == "ok"  # clean text passes
    redacting = guarded(outside, settings.model_copy(update={"llm_phi_policy": "redact"}))
    assert redacting.complete(chat(PHI_MESSAGE, "What inhaler does she use?")) == "ok"
    sent = json.dumps(outside.received[-1])
    assert not any(phi in sent for phi in PHI_STRINGS) and "[NAME]" in sent and "has asthma" in sent
    assert guarded(ExtractiveBackend(), settings).__class__ is ExtractiveBackend  # local backends pass through


def test_openai_backend_retries_5xx_then_fails_clearly_without_request_text() -> None:
    hits: list[int] = []
    flaky = FastAPI()

    @flaky.post("/v1/chat/completions")
    async def answer(request: Request) -> JSONResponse:
        hits.append(len(await request.body()))
        if len(hits) <= 2:
            return JSONResponse({"error": {"code": "overloaded", "message": "busy"}}, status_code=503)
        if len(hits) == 3:
            return JSONResponse({"choices": [{"message": {"role": "assistant", "content": "third time"}}]})
        return JSONResponse({"error": {"code": "bad_model", "message": "secret echo"}}, status_code=400)

    with serving(flaky) as client:
        backend = OpenAIBackend(f"{client.base_url}/v1", "m", external=False, retries=2, backoff=0.01)
        assert backend.complete(chat("sentinel words"), max_tokens=4) == "third time" and len(hits) == 3
        with pytest.raises(BackendError, match=r"HTTP 400 \(bad_model\)") as refused:
            backend.complete(chat("sentinel words"))
        assert len(hits) == 4 and "sentinel" not in str(refused.value)  # a 4xx is not retried


def test_unreachable_openai_endpoint_fails_after_retries(settings) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = make_backend(settings.model_copy(update={
        "llm_backend": "openai", "llm_model": "m", "llm_base_url": url, "llm_external": False, "llm_retries": 2}))
    backend.backoff = 0.05
    started = time.monotonic()
    with pytest.raises(BackendError) as failed:
        backend.complete(chat("sentinel words"))
    assert time.monotonic() - started >= 0.15  # waited 0.05 then 0.1 between the three attempts
    message = str(failed.value)
    assert "after 3 attempt(s)" in message and "ConnectError" in message and url in message
    assert "sentinel" not in message
