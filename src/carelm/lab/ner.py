"""Named-entity recognition: token classification over words, BIO tags, mentions with character offsets.

Training items are :class:`carelm.lab.data.TokenExample` (words and tags).  Each word's tag is learnt on
its first sub-word; the other sub-words are ignored by the loss.  A sentence longer than ``max_length``
sub-words is cut into windows of whole words, so no word goes untagged.  :func:`tag_words` tags word
sequences; :func:`predict_text` finds mentions in raw text (``{"start", "end", "text", "type", "score"}``,
end exclusive), the form ``carelm predict``, the API and the ``carelm.ner.v1`` stage use.
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
    progress: Callable[[int, int, float, float], None] | None = None,
    resume: bool = True,
) -> TrainResult:
    """Fine-tune a tagger on ``train`` (``TokenExample``s); ``dev`` defaults to a split of ``train``."""
    from carelm.lab.data import split_examples

    config = config or TrainConfig()
    if dev is None and config.dev_fraction > 0:
        train, dev = split_examples(list(train), config.dev_fraction, config.seed)
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
    card = ModelCard("ner", tags, False, config.max_length, resolved.name, config.to_dict())
    items = training_items(tokenizer, train, tags, config.max_length)

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
    model: Any, tokenizer: Any, card: ModelCard, sentences: Sequence[Sequence[str]], batch_size: int = 32
) -> list[list[tuple[str, float]]]:
    """``(tag, probability)`` for every word of every sentence."""
    import torch

    jobs = []  # (sentence, first word, encoded item, word ids)
    for number, words in enumerate(sentences):
        for start, end in windows(tokenizer, words, card.max_length):
            item, word_ids = encode_words(tokenizer, words[start:end], card.max_length)
            jobs.append((number, start, item, word_ids))
    out: list[list[tuple[str, float]]] = [[("O", 1.0)] * len(words) for words in sentences]
    jobs.sort(key=lambda job: len(job[2]["input_ids"]))
    with torch.inference_mode():
        for first in range(0, len(jobs), batch_size):
            chunk = jobs[first : first + batch_size]
            logits = model(**pad([job[2] for job in chunk], tokenizer.pad_token_id)).logits
            probabilities = torch.softmax(logits.float(), dim=-1)
            for row, (number, start, _, word_ids) in enumerate(chunk):
                previous = None
                for position, word in enumerate(word_ids):
                    if word is not None and word != previous:
                        best = int(probabilities[row, position].argmax())
                        out[number][start + word] = (card.labels[best], float(probabilities[row, position, best]))
                    previous = word
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
