"""Turn a note and its PHI spans into de-identified text.

Modes:

* ``redact``: each span becomes its type in brackets (``[NAME]``, ``[DATE]``, ...).
* ``mask``: each letter and digit of a span becomes ``*``; whitespace and punctuation are kept, so the
  output has the same length as the input and every offset stays where it was.
* ``surrogate``: each span becomes a realistic, per-patient consistent replacement from a
  ``SurrogateMaker`` (see ``carelm.deid.surrogates``).  A one-word name right after a title
  (``Dr. Allen``) is replaced as a surname, and the maker records it with its title.

Every replacement is reported with its offsets in the input and in the output text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from carelm.core.errors import InputError
from carelm.deid.base import PHI_TYPES, PhiSpan
from carelm.deid.surrogates import SurrogateMaker

__all__ = ["MODES", "DeidResult", "Replacement", "mask_value", "replace_phi"]

MODES = ("redact", "mask", "surrogate")
_TITLE_BEFORE = re.compile(r"\b(?:dr|mr|mrs|ms|miss|mx|prof)\.?[ \t]+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Replacement:
    """One replaced span: ``[start, end)`` in the input, ``[new_start, new_end)`` in the output."""

    start: int
    end: int
    type: str
    new_start: int
    new_end: int
    original: str
    replacement: str


@dataclass(slots=True)
class DeidResult:
    """The de-identified text and what was replaced in it."""

    text: str
    replacements: list[Replacement] = field(default_factory=list)


def mask_value(value: str) -> str:
    """``value`` with every letter and digit replaced by ``*`` (same length)."""
    return "".join("*" if ch.isalnum() else ch for ch in value)


def replace_phi(text: str, spans: list[PhiSpan], mode: str, surrogates: SurrogateMaker | None = None) -> DeidResult:
    """Replace every span of ``text`` according to ``mode`` (one of ``MODES``).

    ``spans`` must be sorted and non-overlapping; ``surrogate`` mode needs ``surrogates``.
    Raises ``InputError`` for an unknown mode and ``ValueError`` for invalid spans.
    """
    if mode not in MODES:
        raise InputError(f"unknown de-identification mode; accepted: {', '.join(MODES)}", location="mode")
    if mode == "surrogate" and surrogates is None:
        raise ValueError("surrogate mode needs a SurrogateMaker")
    _check_spans(spans, len(text))
    pieces: list[str] = []
    replacements: list[Replacement] = []
    pos = out_len = 0
    for span in spans:
        original = text[span.start: span.end]
        new = _replacement(original, span.type, mode, surrogates, _title_before(text, span))
        pieces += [text[pos: span.start], new]
        out_len += span.start - pos
        replacements.append(Replacement(span.start, span.end, span.type, out_len, out_len + len(new), original, new))
        out_len += len(new)
        pos = span.end
    pieces.append(text[pos:])
    return DeidResult("".join(pieces), replacements)


def _replacement(original: str, phi_type: str, mode: str, surrogates: SurrogateMaker | None, title: str) -> str:
    if mode == "redact":
        return f"[{phi_type}]"
    if mode == "mask":
        return mask_value(original)
    if surrogates is None:
        raise ValueError("surrogate mode needs a SurrogateMaker")
    if title:
        with_title = surrogates.surrogate(phi_type, title + original)
        if with_title.startswith(title):
            return with_title[len(title):]
    return surrogates.surrogate(phi_type, original)


def _title_before(text: str, span: PhiSpan) -> str:
    """A title such as ``Dr. `` right before a one-word name, which marks the word as a surname."""
    if span.type != "NAME" or not text[span.start: span.end].isalpha():
        return ""
    match = _TITLE_BEFORE.search(text, max(0, span.start - 8), span.start)
    return match.group() if match else ""


def _check_spans(spans: list[PhiSpan], length: int) -> None:
    """Spans must lie inside the text, be non-empty, sorted, non-overlapping and of a known type."""
    previous_end = 0
    for i, span in enumerate(spans):
        if span.type not in PHI_TYPES:
            raise ValueError(f"span {i} has an unknown PHI type")
        if not 0 <= span.start < span.end <= length:
            raise ValueError(f"span {i} [{span.start}, {span.end}) is empty or outside the text (length {length})")
        if span.start < previous_end:
            raise ValueError(f"span {i} starts at {span.start}, before the previous span ends at {previous_end}")
        previous_end = span.end
