"""Named-entity recognition: token classification over words, BIO tags, mentions with character offsets.

Training items are :class:`carelm.lab.data.TokenExample` (words and tags).  Each word's tag is learnt on
its first sub-word; the other sub-words are ignored by the loss.  A sentence longer than ``max_length``
sub-words is cut into windows of whole words, so no word goes untagged.

Sentences are short and a mention often needs the rest of its document to be recognised (an abbreviation
defined two sentences earlier, a disease named in the title).  A tagger trained with ``pack=True`` (the
default) sees consecutive sentences packed together into windows of up to ``max_length`` sub-words, in
training and in :func:`tag_words`, so sentences must be given in document order.  Tags are decoded per
sentence by Viterbi over the word probabilities with the BIO constraint (``I-X`` only after ``B-X`` or
``I-X``), so every decoded span is well formed.

:func:`tag_words` tags word sequences; :func:`predict_text` finds mentions in raw text
(``{"start", "end", "text", "type", "score"}``, end exclusive), the form ``carelm predict``, the API and
the ``carelm.ner.v1`` stage use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError
from carelm.lab.classify import pad
from carelm.lab.modeling import ModelCard, build_model, load_tokenizer, resolve_base
from carelm.lab.trainer import TrainConfig, Trainer, TrainResult, train_and_save

AUTO_CLASS = "AutoModelForTokenClassification"
IGNORE = -100
DEV_RUN = 20  # sentences per run when a packed tagger draws its dev split from train


def windows(tokenizer: Any, words: Sequence[str], max_length: int) -> list[tuple[int, int]]:
    """``[start, end)`` word ranges whose sub-words (plus the two special tokens) fit in ``max_length``;
    a break falls after a full stop when one is within the window."""
    if not words:
        return []
    pieces = tokenizer(list(words), is_split_into_words=True, add_special_tokens=False)
    counts = [0] * len(words)
    for word in pieces.word_ids():
        if word is not None:
            counts[word] += 1
    budget, out, start = max_length - 2, [], 0
    while start < len(words):
        end, used, last_stop = start, 0, None
        while end < len(words) and used + max(1, counts[end]) <= budget:
            used += max(1, counts[end])
            if words[end] == ".":
                last_stop = end + 1
            end += 1
        if end == start:  # one word longer than the budget: it gets a window of its own, truncated
            end = start + 1
        elif end < len(words) and last_stop is not None and last_stop > start:
            end = last_stop
        out.append((start, end))
        start = end
    return out


def subword_counts(tokenizer: Any, sentences: Sequence[Sequence[str]]) -> list[list[int]]:
    """The number of sub-words (at least one) of every word of every sentence."""
    out = []
    for words in sentences:
        counts = [0] * len(words)
        if words:
            pieces = tokenizer(list(words), is_split_into_words=True, add_special_tokens=False)
            for word in pieces.word_ids():
                if word is not None:
                    counts[word] += 1
        out.append([max(1, count) for count in counts])
    return out


def pack_groups(counts: Sequence[Sequence[int]], max_length: int) -> list[list[int]]:
    """Runs of consecutive sentence indices whose sub-words (plus the two special tokens) fit in
    ``max_length``; a sentence too long on its own makes a run by itself (and is then windowed)."""
    budget, groups, current, used = max_length - 2, [], [], 0
    for index, sentence in enumerate(counts):
        size = sum(sentence)
        if current and used + size > budget:
            groups.append(current)
            current, used = [], 0
        current.append(index)
        used += size
    if current:
        groups.append(current)
    return groups


def packed(examples: Sequence[Any], groups: list[list[int]]) -> list[Any]:
    """``TokenExample``s that join the sentences of each group."""
    from carelm.lab.data import TokenExample

    out = []
    for group in groups:
        tokens = [token for index in group for token in examples[index].tokens]
        tags = [tag for index in group for tag in examples[index].tags]
        out.append(TokenExample(tokens, tags))
    return out


def bio_decode(probabilities: Any, labels: Sequence[str]) -> list[int]:
    """The most probable tag sequence (indices) of one sentence's ``[words, tags]`` probabilities in which
    every ``I-X`` follows ``B-X`` or ``I-X``."""
    import numpy as np

    scores = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, None))
    count = len(labels)
    allowed = np.ones((count, count), dtype=bool)  # [previous, next]
    starts = np.ones(count, dtype=bool)
    for j, label in enumerate(labels):
        if label.startswith("I-"):
            starts[j] = False
            for i, before in enumerate(labels):
                allowed[i, j] = before[2:] == label[2:] and before[:2] in ("B-", "I-")
    penalty = np.where(allowed, 0.0, -np.inf)
    best = np.where(starts, scores[0], -np.inf)
    back = np.zeros((len(scores), count), dtype=np.int64)
    for position in range(1, len(scores)):
        options = best[:, None] + penalty
        back[position] = options.argmax(axis=0)
        best = options.max(axis=0) + scores[position]
    path = [int(best.argmax())]
    for position in range(len(scores) - 1, 0, -1):
        path.append(int(back[position, path[-1]]))
    return path[::-1]


def encode_words(
    tokenizer: Any, words: Sequence[str], max_length: int
) -> tuple[dict[str, list[int]], list[int | None]]:
    """Token ids, mask and the word index of each sub-word (None for special tokens) of one window."""
    encoded = tokenizer(list(words), is_split_into_words=True, truncation=True, max_length=max_length)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}, encoded.word_ids()


def first_subword_labels(word_ids: list[int | None], tags: Sequence[int]) -> list[int]:
    """The label of each sub-word: the word's tag on its first sub-word, IGNORE elsewhere."""
    labels, previous = [], None
    for word in word_ids:
        labels.append(IGNORE if word is None or word == previous else tags[word])
        previous = word
    return labels


def training_items(tokenizer: Any, examples: Sequence[Any], tags: list[str], max_length: int) -> list[dict]:
    """Encoded windows of ``examples`` with sub-word labels."""
    index = {tag: i for i, tag in enumerate(tags)}
    items = []
    for example in examples:
        for start, end in windows(tokenizer, example.tokens, max_length):
            item, word_ids = encode_words(tokenizer, example.tokens[start:end], max_length)
            item["labels"] = first_subword_labels(word_ids, [index[tag] for tag in example.tags[start:end]])
            items.append(item)
    return items


def card_items(tokenizer: Any, examples: Sequence[Any], card: ModelCard) -> list[dict]:
    """Training items of ``examples`` for the tagger ``card`` describes (packed when it packs)."""
    if card.params.get("pack", False):
        groups = pack_groups(subword_counts(tokenizer, [e.tokens for e in examples]), card.max_length)
        examples = packed(examples, groups)
    return training_items(tokenizer, examples, card.labels, card.max_length)


def split_dev(examples: Sequence[Any], fraction: float, seed: int, pack: bool) -> tuple[list[Any], list[Any]]:
    """``(train, dev)``; for a packing tagger dev is drawn in runs of consecutive sentences."""
    from carelm.lab.data import split_examples

    examples = list(examples)
    run = DEV_RUN if pack else 1
    kept, held = split_examples(list(range(len(examples))), fraction, seed, lambda i: i // run)
    return [examples[i] for i in kept], [examples[i] for i in held]


def tag_set(examples: Sequence[Any]) -> list[str]:
    """``O`` then every other tag, sorted by entity type then B before I."""
    found = {tag for example in examples for tag in example.tags} - {"O"}
    return ["O", *sorted(found, key=lambda tag: (tag[2:], tag[0]))]


def train_tagger(
    train: Sequence[Any],
    out_dir: Path,
    *,
    base: str | Path | None = None,
    config: TrainConfig | None = None,
    dev: Sequence[Any] | None = None,
    pack: bool = True,
    progress: Callable[[int, int, float, float], None] | None = None,
    resume: bool = True,
) -> TrainResult:
    """Fine-tune a tagger on ``train`` (``TokenExample``s in document order); ``dev`` defaults to a split of
    ``train`` drawn in runs of consecutive sentences, so packed dev sentences keep their neighbours."""
    config = config or TrainConfig()
    if dev is None and config.dev_fraction > 0:
        train, dev = split_dev(train, config.dev_fraction, config.seed, pack)
    tags = tag_set(list(train) + list(dev or []))
    if len(tags) < 2:
        raise ConfigError("NER training data has no entity tags")
    resolved = resolve_base(base)
    tokenizer = load_tokenizer(resolved.tokenizer)
    model = build_model(
        resolved,
        AUTO_CLASS,
        config.seed,
        num_labels=len(tags),
        id2label=dict(enumerate(tags)),
        label2id={tag: i for i, tag in enumerate(tags)},
    )
    card = ModelCard("ner", tags, False, config.max_length, resolved.name, {**config.to_dict(), "pack": pack})
    items = card_items(tokenizer, train, card)

    def evaluate(model: Any) -> dict[str, Any]:
        return score(model, tokenizer, card, dev or [])

    trainer = Trainer(
        model,
        config,
        Path(out_dir),
        lambda batch: pad(batch, tokenizer.pad_token_id),
        evaluate if dev else None,
        metric="f1",
        greater_is_better=True,
        progress=progress,
    )
    return train_and_save(
        trainer,
        items,
        tokenizer=tokenizer,
        card=card,
        resume=resume,
        counts=(len(train), len(dev or [])),
    )


def tag_words(
    model: Any,
    tokenizer: Any,
    card: ModelCard,
    sentences: Sequence[Sequence[str]],
    batch_size: int = 32,
    pack: bool | None = None,
) -> list[list[tuple[str, float]]]:
    """``(tag, probability)`` for every word of every sentence.

    ``pack`` (default: as the model was trained) tags consecutive sentences together, as neighbours in one
    document; pass ``False`` for unrelated sentences.
    """
    import numpy as np
    import torch

    pack = bool(card.params.get("pack", False)) if pack is None else pack
    if pack:
        groups = pack_groups(subword_counts(tokenizer, sentences), card.max_length)
    else:
        groups = [[index] for index in range(len(sentences))]
    units = [[word for index in group for word in sentences[index]] for group in groups]
    jobs = []  # (unit, first word, encoded item, word ids)
    for number, words in enumerate(units):
        for start, end in windows(tokenizer, words, card.max_length):
            item, word_ids = encode_words(tokenizer, words[start:end], card.max_length)
            jobs.append((number, start, item, word_ids))
    count = len(card.labels)
    outside = np.eye(count, dtype=np.float32)[card.labels.index("O") if "O" in card.labels else 0]
    found = [np.tile(outside, (len(words), 1)) for words in units]
    jobs.sort(key=lambda job: len(job[2]["input_ids"]))
    with torch.inference_mode():
        for first in range(0, len(jobs), batch_size):
            chunk = jobs[first : first + batch_size]
            logits = model(**pad([job[2] for job in chunk], tokenizer.pad_token_id)).logits
            probabilities = torch.softmax(logits.float(), dim=-1).numpy()
            for row, (number, start, _, word_ids) in enumerate(chunk):
                previous = None
                for position, word in enumerate(word_ids):
                    if word is not None and word != previous:
                        found[number][start + word] = probabilities[row, position]
                    previous = word
    out: list[list[tuple[str, float]]] = [[] for _ in sentences]
    for group, probabilities in zip(groups, found, strict=True):
        offset = 0
        for index in group:
            rows = probabilities[offset : offset + len(sentences[index])]
            offset += len(sentences[index])
            if len(rows):
                path = bio_decode(rows, card.labels)
                out[index] = [(card.labels[tag], float(row[tag])) for tag, row in zip(path, rows, strict=True)]
    return out


def predict_text(model: Any, tokenizer: Any, card: ModelCard, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
    """Mentions found in each of ``texts``, with character offsets into it."""
    from carelm.lab.data import word_spans
    from carelm.lab.metrics import entity_spans

    spans = [word_spans(text) for text in texts]
    tagged = tag_words(
        model, tokenizer, card, [[text[a:b] for a, b in found] for text, found in zip(texts, spans, strict=True)]
    )
    results = []
    for text, found, tags in zip(texts, spans, tagged, strict=True):
        mentions = []
        for first, last, label in entity_spans([tag for tag, _ in tags]):
            start, end = found[first][0], found[last - 1][1]
            confidence = sum(p for _, p in tags[first:last]) / (last - first)
            mentions.append(
                {"start": start, "end": end, "text": text[start:end], "type": label, "score": round(confidence, 4)}
            )
        results.append(mentions)
    return results


def score(model: Any, tokenizer: Any, card: ModelCard, examples: Sequence[Any]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (exact match) and token accuracy on labelled ``examples``."""
    from carelm.lab.metrics import entity_report

    if not examples:
        return {}
    tagged = tag_words(model, tokenizer, card, [example.tokens for example in examples])
    report = entity_report([list(example.tags) for example in examples], [[t for t, _ in row] for row in tagged])
    return {key: report[key] for key in ("precision", "recall", "f1", "token_accuracy") if key in report}


def load_tagger(folder: str | Path) -> tuple[Any, Any, ModelCard]:
    """A tagger folder's model, tokenizer and card."""
    from carelm.lab.modeling import load_model

    return load_model(folder, AUTO_CLASS)
