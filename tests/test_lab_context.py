"""Context for lab models: sentence packing and BIO-constrained decoding for taggers, windows over long texts
for classifiers."""

from __future__ import annotations

import numpy as np
import pytest

from carelm.lab.modeling import ModelCard, build_model, load_tokenizer, resolve_base

pytest.importorskip("transformers")

TINY_BERT = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64, "max_position_embeddings": 128}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_base(None).tokenizer)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    import json

    path = tmp_path_factory.mktemp("tiny") / "tiny-bert.json"
    path.write_text(json.dumps(TINY_BERT))
    return resolve_base(path)


def test_pack_groups_keep_order_and_fit_the_budget() -> None:
    from carelm.lab.ner import pack_groups

    counts = [[3, 2], [4], [10, 10, 10], [1], [1, 1], [40]]  # 5, 4, 30, 1, 2, 40 sub-words
    groups = pack_groups(counts, max_length=12)  # a budget of 10 sub-words
    assert [index for group in groups for index in group] == list(range(len(counts)))
    assert groups == [[0, 1], [2], [3, 4], [5]]
    for group in groups:
        if len(group) > 1:
            assert sum(sum(counts[i]) for i in group) <= 10


def test_bio_decode_never_starts_an_entity_with_inside() -> None:
    from carelm.lab.ner import bio_decode

    labels = ["O", "B-Disease", "I-Disease", "B-Chemical", "I-Chemical"]
    # the per-word argmax would be O, I-Disease, I-Disease: an entity without a beginning
    rows = np.array([[0.9, 0.05, 0.03, 0.01, 0.01], [0.3, 0.25, 0.43, 0.01, 0.01], [0.3, 0.1, 0.58, 0.01, 0.01]])
    path = [labels[i] for i in bio_decode(rows, labels)]
    assert path == ["O", "B-Disease", "I-Disease"]  # 0.9·0.25·0.58 beats O, O, O at 0.9·0.3·0.3
    # an inside tag of another type cannot continue an entity
    rows = np.array([[0.05, 0.9, 0.03, 0.01, 0.01], [0.3, 0.05, 0.05, 0.05, 0.55]])
    path = [labels[i] for i in bio_decode(rows, labels)]
    assert path == ["B-Disease", "O"]  # 0.9·0.3 beats B-Chemical's 0.9·0.05; I-Chemical cannot follow B-Disease


def test_bio_decode_keeps_the_argmax_when_it_is_well_formed() -> None:
    from carelm.lab.ner import bio_decode

    labels = ["O", "B-X", "I-X"]
    rng = np.random.default_rng(3)
    for _ in range(50):
        rows = rng.dirichlet(np.ones(3), size=6)
        argmax = [labels[i] for i in rows.argmax(axis=1)]
        well_formed = all(
            not tag.startswith("I-") or (position > 0 and argmax[position - 1] != "O")
            for position, tag in enumerate(argmax)
        )
        if well_formed:
            assert [labels[i] for i in bio_decode(rows, labels)] == argmax


def test_packed_tagging_covers_every_word_of_every_sentence(tokenizer, tiny_base) -> None:
    from carelm.lab.ner import AUTO_CLASS, tag_words

    labels = ["O", "B-Disease", "I-Disease"]
    model = build_model(tiny_base, AUTO_CLASS, 1, num_labels=3).eval()
    card = ModelCard("ner", labels, False, 24, "tiny", {"pack": True})
    sentences = [["the", "patient", "has", "asthma", "."], ["no", "fever", "."], [], ["stable", "today", "."]]
    sentences += [["word"] * 30]  # longer than one window
    packed = tag_words(model, tokenizer, card, sentences)
    alone = tag_words(model, tokenizer, card, sentences, pack=False)
    assert [len(row) for row in packed] == [len(words) for words in sentences]
    assert [len(row) for row in alone] == [len(words) for words in sentences]
    for row in packed + alone:
        for position, (tag, probability) in enumerate(row):
            assert tag in labels and 0.0 <= probability <= 1.0
            if tag.startswith("I-"):
                assert position > 0 and row[position - 1][0] != "O"
    # packing changes what each word sees, so at least one probability moves
    pairs = [(a, b) for row_a, row_b in zip(packed, alone, strict=True) for a, b in zip(row_a, row_b, strict=True)]
    assert any(abs(a[1] - b[1]) > 1e-6 for a, b in pairs)


def test_classifier_windows_cover_the_text_and_average_the_logits(tokenizer, tiny_base) -> None:
    import torch

    from carelm.lab.classify import AUTO_CLASS, encode, logits_of, pad

    long_text = " ".join(f"finding{number} noted" for number in range(60))
    short_text = "chest pain"
    items, owners = encode(tokenizer, [long_text, short_text], max_length=32, windows=3)
    assert owners.count(0) == 3 and owners.count(1) == 1 and owners == sorted(owners)
    assert all(len(item["input_ids"]) <= 32 for item in items)
    body = tokenizer(long_text, add_special_tokens=False)["input_ids"][: 3 * 30]
    first = [item for item, owner in zip(items, owners, strict=True) if owner == 0]
    joined = [token for item in first for token in item["input_ids"][1:-1]]
    assert joined == body  # the windows cover the first 3 × (32 − 2) sub-words, in order
    truncated, _ = encode(tokenizer, [short_text], max_length=32, windows=1)
    assert items[-1] == truncated[0]  # a short text is one window, as without windows

    model = build_model(tiny_base, AUTO_CLASS, 2, num_labels=4).eval()
    found = logits_of(model, tokenizer, [long_text, short_text], 32, windows=3)
    with torch.inference_mode():
        each = model(**pad(items, tokenizer.pad_token_id)).logits.numpy()
    np.testing.assert_allclose(found[0], each[:3].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(found[1], each[3], atol=1e-5)


def test_mean_pooled_classifier_ignores_padding_and_round_trips(tokenizer, tiny_base, tmp_path) -> None:
    import torch

    from carelm.lab.classify import pad
    from carelm.lab.modeling import MEAN_POOLED, load_model, save_model
    from carelm.lab.pooling import MeanPooledBertClassifier

    model = build_model(tiny_base, MEAN_POOLED, 4, num_labels=3).eval()
    assert isinstance(model, MeanPooledBertClassifier)
    short, long = tokenizer(["chest pain"])["input_ids"][0], tokenizer(["chest pain radiating to the left arm"])
    alone = {"input_ids": [short], "attention_mask": [[1] * len(short)]}
    with torch.inference_mode():
        single = model(input_ids=torch.tensor(alone["input_ids"]), attention_mask=torch.tensor(alone["attention_mask"]))
        items = [{"input_ids": short, "attention_mask": [1] * len(short)},
                 {"input_ids": long["input_ids"][0], "attention_mask": long["attention_mask"][0]}]
        batched = model(**pad(items, tokenizer.pad_token_id)).logits
    np.testing.assert_allclose(single.logits[0].numpy(), batched[0].numpy(), atol=1e-5)

    save_model(tmp_path / "m", model, tokenizer, ModelCard("classify", ["a", "b", "c"], False, 32, "tiny",
                                                           {"pooling": "mean"}))
    loaded, _, card = load_model(tmp_path / "m", "AutoModelForSequenceClassification")
    assert isinstance(loaded, MeanPooledBertClassifier) and card.params["pooling"] == "mean"
    with torch.inference_mode():
        again = loaded(**pad(items, tokenizer.pad_token_id)).logits
    np.testing.assert_allclose(again.numpy(), batched.numpy(), atol=1e-6)


def test_linear_probe_scores_epoch_zero_before_fine_tuning(tokenizer, tiny_base, tmp_path) -> None:
    """With a pretrained encoder (here a saved tiny one) the head is fitted on frozen vectors first: epoch 0 is
    the probe's dev score, and the probe alone already separates labels that a fresh head cannot."""
    import random

    from carelm.lab.classify import score, train_classifier
    from carelm.lab.data import ClassifyExample
    from carelm.lab.modeling import MEAN_POOLED, load_model, save_model
    from carelm.lab.trainer import TrainConfig

    encoder = build_model(tiny_base, MEAN_POOLED, 5, num_labels=2)
    save_model(tmp_path / "encoder", encoder, tokenizer, ModelCard("classify", ["x", "y"], False, 32))
    words = {"cardiology": ["palpitations", "angina"], "dermatology": ["rash", "eczema"], "pulmonology": ["cough"]}
    rng = random.Random(7)

    def examples(count: int) -> list:
        out = []
        for _ in range(count):
            label = rng.choice(sorted(words))
            text = f"{rng.choice(['seen for', 'reports', 'history of'])} {rng.choice(words[label])} today"
            out.append(ClassifyExample(text, (label,)))
        return out

    train, dev = examples(90), examples(30)
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=1e-5, max_length=32, seed=3, max_steps=1)
    result = train_classifier(train, tmp_path / "model", base=tmp_path / "encoder", config=config, dev=dev)
    history = result.fit.history
    assert [row["epoch"] for row in history] == [0, 0]  # the probe, then the one-step run (inside epoch 0)
    assert history[0]["macro_f1"] >= 0.9
    model, tok, card = load_model(result.path, "AutoModelForSequenceClassification")
    assert card.params["pooling"] == "mean"
    assert score(model, tok, card, dev)["macro_f1"] >= history[0]["macro_f1"]  # the best epoch was kept
