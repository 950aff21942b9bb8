"""Length-preserving text normalisation: the ``normalized`` view.

Every character of ``raw`` maps to exactly one character of ``normalized``, so the two
views share offsets and any span found on ``normalized`` is valid on ``raw``.  The map:

* ``"\\r\\n"`` becomes ``" \\n"``; a lone ``"\\r"``, NEL, vertical tab, form feed and the
  Unicode line/paragraph separators become ``"\\n"``;
* tabs, no-break and other Unicode spaces, zero-width space and BOM become ``" "``;
* other C0/C1 control characters become ``" "``;
* curly/low/angle quotes and primes become ``'`` or ``"``; hyphen, dash and minus
  variants become ``"-"``;
* full-width ASCII forms (``"：" "（"``) become their ASCII twin;
* anything else, including characters NFKC would expand (``"…"``, ligatures), is kept.
"""

from __future__ import annotations

from typing import ClassVar

from carelm.core.registry import Stage, register_stage
from carelm.core.types import RAW, Note

NORMALIZED = "normalized"

_LINE_BREAKS = "\r\x0b\x0c\x85\u2028\u2029"
_SPACES = "\t\u00a0\u1680\u180e\u200b\u202f\u205f\u3000\ufeff" + "".join(map(chr, range(0x2000, 0x200B)))
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\uff07"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\uff0d"


def _build_table() -> dict[int, str]:
    """The ``str.translate`` table; every value is a single character."""
    table: dict[int, str] = {}
    for code in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]:
        if chr(code) != "\n":
            table[code] = " "
    for code in range(0xFF01, 0xFF5F):
        table[code] = chr(code - 0xFEE0)
    for chars, target in (
        (_SPACES, " "),
        (_LINE_BREAKS, "\n"),
        (_SINGLE_QUOTES, "'"),
        (_DOUBLE_QUOTES, '"'),
        (_DASHES, "-"),
    ):
        table.update({ord(char): target for char in chars})
    return table


_TABLE = _build_table()


def normalize_text(text: str) -> str:
    """Return the normalised twin of ``text``: same length, same offsets."""
    return text.replace("\r\n", " \n").translate(_TABLE)


@register_stage
class TextNormalizer(Stage):
    """Writes the ``normalized`` view, a same-length cleanup of ``raw`` that later stages read."""

    name: ClassVar[str] = "carelm.normalize.v1"
    reads: ClassVar[tuple[str, ...]] = (RAW,)
    writes: ClassVar[tuple[str, ...]] = (NORMALIZED,)

    def __call__(self, notes: list[Note]) -> list[Note]:
        for note in notes:
            note.views[NORMALIZED] = normalize_text(note.views[RAW])
        return notes
