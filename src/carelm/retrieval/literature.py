"""Literature passages: one per document, or runs of sentences for long documents.

A document's stored text is ``title + "\\n" + text``; passage offsets point into that string.  A document
of at most ``max_words`` words is one passage (start 0).  A longer one is cut into runs of sentences of
at most ``max_words`` words; the first run starts at the title.  For ranking, BM25 sees the title
``title_weight`` times (a cheap field weighting) and the encoder sees the title before every run, while the
passage text itself is always the exact slice of the stored string.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from carelm.retrieval.chunking import sentence_bounds, sentence_runs, word_count
from carelm.retrieval.corpus import LiteratureDoc

MAX_WORDS = 400
TITLE_WEIGHT = 2


@dataclass
class LiteratureBatch:
    """Passage rows and the texts BM25 and the encoder read for them, row-aligned."""

    rows: list[dict] = field(default_factory=list)
    lexical: list[str] = field(default_factory=list)
    dense: list[str] = field(default_factory=list)

    def extend(self, other: LiteratureBatch) -> None:
        self.rows += other.rows
        self.lexical += other.lexical
        self.dense += other.dense


def doc_passages(doc: LiteratureDoc, max_words: int = MAX_WORDS, title_weight: int = TITLE_WEIGHT) -> LiteratureBatch:
    """The passages of one document (see the module docstring)."""
    full = doc.full_text
    body_start = len(doc.title) + 1
    title_extra = " ".join([doc.title] * max(0, title_weight - 1))
    if word_count(full, 0, len(full)) <= max_words:
        spans = [(0, len(full))]
    else:
        spans = sentence_runs(full, sentence_bounds(full, body_start), max_words)
        spans[0] = (0, spans[0][1]) if spans else (0, len(full))
    batch = LiteratureBatch()
    for number, (start, end) in enumerate(spans):
        text = full[start:end]
        batch.rows.append({"id": f"{doc.id}#{number}", "document_id": doc.id, "start": start, "end": end,
                           "text": text, "metadata": {"title": doc.title}})
        titled = text if start == 0 else doc.title + "\n" + text
        batch.lexical.append(f"{title_extra} {titled}" if title_extra else titled)
        batch.dense.append(titled)
    return batch


def corpus_passages(docs: Iterable[LiteratureDoc], max_words: int = MAX_WORDS,
                    title_weight: int = TITLE_WEIGHT) -> LiteratureBatch:
    batch = LiteratureBatch()
    for doc in docs:
        batch.extend(doc_passages(doc, max_words, title_weight))
    return batch
