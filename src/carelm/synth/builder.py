"""Offset-exact note builder: text is appended piece by piece and every annotation records its own offsets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PHI = "gold.phi"
MENTIONS = "gold.mentions"
SECTIONS = "gold.sections"
LAYERS = (PHI, MENTIONS, SECTIONS)

_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Span:
    """A piece of text that becomes an annotation on ``layer`` when written."""

    text: str
    layer: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)


Piece = str | Span | Sequence["Piece"]


def phi(text: str, label: str, **attributes: Any) -> Span:
    """Return a PHI span (``gold.phi``) with the given label and attributes."""
    return Span(text, PHI, label, attributes)


def mention(
    text: str,
    label: str,
    *,
    negated: bool = False,
    uncertain: bool = False,
    historical: bool = False,
    hypothetical: bool = False,
    family: bool = False,
    **extra: Any,
) -> Span:
    """Return a clinical mention span (``gold.mentions``) carrying the five assertion flags plus extras."""
    attributes = {
        "negated": negated,
        "uncertain": uncertain,
        "historical": historical,
        "hypothetical": hypothetical,
        "family": family,
    }
    attributes.update({key: value for key, value in extra.items() if value is not None})
    return Span(text, MENTIONS, label, attributes)


def capitalize(piece: Piece) -> Piece:
    """Upper-case the first character of a string or span (for sentence starts)."""
    if isinstance(piece, str):
        return piece[:1].upper() + piece[1:]
    if isinstance(piece, Span):
        return Span(piece.text[:1].upper() + piece.text[1:], piece.layer, piece.label, piece.attributes)
    items = list(piece)
    return [capitalize(items[0]), *items[1:]] if items else items


def join(items: Sequence[Piece], conj: str = "and", sep: str = ", ") -> list[Piece]:
    """Join pieces as an English list: ``a``, ``a and b``, ``a, b, and c``."""
    items = list(items)
    if len(items) <= 2:
        out: list[Piece] = []
        for i, item in enumerate(items):
            out.extend([f" {conj} "] if i else [])
            out.append(item)
        return out
    out = []
    for item in items[:-1]:
        out.extend([item, sep])
    out.extend([f"{conj} ", items[-1]])
    return out


class NoteBuilder:
    """Accumulates note text and the annotations whose offsets point into it."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._pos = 0
        self._content_end = 0
        self._tail = ""
        self._layers: dict[str, list[dict[str, Any]]] = {layer: [] for layer in LAYERS}
        self._section: tuple[int, int, str] | None = None

    def _append(self, text: str) -> None:
        if not text:
            return
        self._parts.append(text)
        stripped = text.rstrip()
        if stripped:
            self._content_end = self._pos + len(stripped)
        self._pos += len(text)
        self._tail = (self._tail + text)[-2:]

    def _annotate(self, layer: str, start: int, end: int, label: str, attributes: dict[str, Any]) -> None:
        self._layers[layer].append({"start": start, "end": end, "label": label, "attributes": dict(attributes)})

    def write(self, *pieces: Piece) -> None:
        """Append strings, spans (recording their offsets) or nested sequences of them."""
        for piece in pieces:
            if isinstance(piece, str):
                self._append(piece)
            elif isinstance(piece, Span):
                start = self._pos
                self._append(piece.text)
                self._annotate(piece.layer, start, self._pos, piece.label, piece.attributes)
            else:
                self.write(*piece)

    def say(self, template: str, **slots: Piece) -> None:
        """Append ``template`` with each ``{name}`` placeholder replaced by the piece given for it."""
        last = 0
        for match in _SLOT.finditer(template):
            self._append(template[last : match.start()])
            self.write(slots[match.group(1)])
            last = match.end()
        self._append(template[last:])

    def line(self, template: str = "", **slots: Piece) -> None:
        """Like :meth:`say` but ends the line."""
        self.say(template, **slots)
        self._append("\n")

    def newline(self) -> None:
        """Make sure the next text starts on a fresh line."""
        if self._pos and self._tail[-1:] != "\n":
            self._append("\n")

    def header(self, header: str, label: str) -> None:
        """Close the open section and start a new one whose header sits on its own line after a blank line."""
        self.close_section()
        self.newline()
        if self._pos and self._tail != "\n\n":
            self._append("\n")
        start = self._pos
        self._append(header)
        self._section = (start, self._pos, label)
        self._append("\n")

    def close_section(self) -> None:
        """Record the open section, spanning its header through the last non-blank character of its body."""
        if self._section is None:
            return
        start, header_end, label = self._section
        self._annotate(SECTIONS, start, max(self._content_end, header_end), label, {"header_end": header_end})
        self._section = None

    def build(self) -> tuple[str, dict[str, list[dict[str, Any]]]]:
        """Finish the note and return its text and annotation layers, each sorted by offset."""
        self.close_section()
        self.newline()
        layers = {name: sorted(spans, key=lambda a: (a["start"], a["end"])) for name, spans in self._layers.items()}
        return "".join(self._parts), layers
