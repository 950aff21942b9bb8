"""Address blocks: the place names, region codes and postcodes that follow a street on its line and the lines below.

A street found by a pattern (``ADDRESS``) is often followed by ``, Springfield, IL 62704`` or by lines such as
``Suite 5`` / ``Springfield`` / ``United States 62704``.  :func:`extend_addresses` grows each address span over
such a tail when the whole tail is made of place-like tokens (capitalised words, codes, numbers) and ends at a
line end or a sentence mark; lines with a colon, an ``@`` or a lower-case word end the block.
"""

from __future__ import annotations

import re

from carelm.deid.base import PhiSpan

_PARTICLES = r"(?:de|da|do|du|del|della|di|la|le|van|von|der|den|y|e)"
_TOKEN = (rf"(?:(?![a-z])[^\W\d_][\w'.-]*|\((?![a-z])[^\W\d_][\w'.-]*\)|\d{{2,6}}(?:[ -]\d{{2,4}})?(?![\w-])"
          rf"|{_PARTICLES}(?!\w))")
_SEP = r"[ \t]*,?[ \t]*"
_STOP = r"(?!(?i:and|or|with|to|for|at|on|in|of|the|is|was|then|but|if|after|before)\b)"
#: The rest of a street's line: place tokens up to the line end or a sentence mark.
TAIL = re.compile(rf"(?:{_SEP}{_STOP}{_TOKEN}){{1,6}}[ \t]*(?:[.?!;,]+(?=[ \t]|$)|[ \t]*(?=\n)|$)")
#: A whole line of a block: blanks, quote marks, then one to six place tokens.
PLACE_LINE = re.compile(rf"[ \t>?*]*(?:,[ \t]*)?{_STOP}{_TOKEN}(?:{_SEP}{_STOP}{_TOKEN}){{0,5}}[ \t,.]*")
_EOL = re.compile(r"[ \t,.]*(?=\n|$)")
MAX_LINES = 5


def _line_after(text: str, end: int) -> int | None:
    """The end of the address's own line when only place tokens follow ``end`` on it, else None."""
    if _EOL.match(text, end):
        return end
    tail = TAIL.match(text, end)
    return tail.end() if tail else None


def _block_end(text: str, end: int) -> int:
    """Where an address block whose first line ends at ``end`` stops (one blank line may lie inside it)."""
    best, pos, blanks = end, end, 0
    for _ in range(MAX_LINES):
        if not text.startswith("\n", pos):
            break
        line_end = text.find("\n", pos + 1)
        line_end = len(text) if line_end < 0 else line_end
        line = text[pos + 1:line_end]
        if not line.strip(" \t>?*"):
            blanks += 1
            if blanks > 1:
                break
        elif len(line) <= 60 and PLACE_LINE.fullmatch(line):
            blanks, best = 0, line_end
        else:
            break
        pos = line_end
    return best


def extend_span(text: str, span: PhiSpan) -> PhiSpan:
    """``span`` grown over the place tokens and lines that follow it."""
    end = _line_after(text, span.end)
    if end is None:
        return span
    eol = _EOL.match(text, end)
    if eol:
        end = _block_end(text, eol.end())
    stop = max(len(text[:end].rstrip(" \t\n,?!;")), span.end)
    return span if stop == span.end else PhiSpan(span.start, stop, span.type, span.score, span.source)


def extend_addresses(text: str, spans: list[PhiSpan]) -> list[PhiSpan]:
    """Every ``ADDRESS`` span of ``spans`` extended over its block; other spans unchanged."""
    return [extend_span(text, span) if span.type == "ADDRESS" else span for span in spans]
