"""The token tests behind the name rules: is this word name-like in this context, and how far does a name run.

Context strength levels, strongest first: ``STRONG`` (after a title such as "Dr."), ``RELATION`` (after
"wife", "son"), ``MEDIUM`` (clinician roles, credentials, initials, signatures), ``WEAK`` ("per", "aware"),
and ``EXTEND`` (the further words of a name already started).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carelm.deid.base import PhiSpan
from carelm.deid.lexicon import AMBIG, NAME, TYPO, UNKNOWN, WORD, Lexicon, TokenView

if TYPE_CHECKING:
    from carelm.deid.names import NameContext

STRONG, RELATION, MEDIUM, WEAK, EXTEND = "strong", "relation", "medium", "weak", "extend"
SCORES = {STRONG: 0.9, RELATION: 0.85, MEDIUM: 0.8, WEAK: 0.7, EXTEND: 0.75}
DICTIONARY = 0.6
MAX_NAME_TOKENS = 4
SENTENCE_END = frozenset(".!?:;*")
INITIAL_BEFORE = frozenset(" \n\t(-,;:\"")
SIDES = frozenset({"l", "r"})


class NameRules:
    """Token tests and name extent for one note; subclasses add the context rules."""

    def __init__(self, view: TokenView, ctx: NameContext, lex: Lexicon):
        self.v, self.ctx, self.lex = view, ctx, lex
        self.n = view.n
        self.found: dict[int, float] = {}
        self.parts: list[PhiSpan] = []

    def text(self, i: int) -> str:
        """The text of token ``i`` ("" outside the note)."""
        return self.v.texts[i] if 0 <= i < self.n else ""

    def take(self, start: int, end: int, score: float) -> None:
        """Mark tokens [start, end) as a name with ``score``."""
        for i in range(max(start, 0), min(end, self.n)):
            if self.found.get(i, 0.0) < score:
                self.found[i] = score

    def eponym(self, i: int) -> bool:
        """True when the word is followed by a medical head noun ("Foley catheter", "Graves disease")."""
        return i + 1 < self.n and self.v.low[i + 1] in self.ctx.eponym_heads

    def sentence_start(self, i: int) -> bool:
        """True for the first word of a line or sentence."""
        return i == 0 or self.v.newline_before[i] or self.text(i - 1) in SENTENCE_END

    def cased(self, i: int) -> bool:
        """See :meth:`TokenView.cased`."""
        return self.v.cased(i)

    def stem(self, i: int) -> str:
        """The lower-case word without a possessive."""
        return self.v.low[i].removesuffix("'s").strip("'")

    def ok(self, i: int, level: str) -> bool:
        """Whether token ``i`` can be (part of) a name in a context of the given strength."""
        v = self.v
        if not v.alpha(i) or len(self.stem(i)) < 2 or self.glued_digit(i):
            return False
        low, kind = v.low[i], v.kind[i]
        if level == STRONG:
            return low not in self.ctx.stop_after_title and low not in self.ctx.context_words
        if low in self.ctx.function_words or low in self.ctx.context_words:
            return False
        if kind == TYPO and not (self.cased(i) and v.cap[i]):
            return level == EXTEND
        if not v.caseless and v.upper(i) and kind == UNKNOWN and len(low) < 4:
            return False
        if self.cased(i):
            if v.cap[i] and kind == WORD:
                return level == RELATION and self.stem(i) not in self.lex.not_names
            if v.cap[i]:
                return kind not in (UNKNOWN, TYPO) or level != WEAK or not self.sentence_start(i)
            if v.upper(i):
                return kind == NAME or (kind == UNKNOWN and len(low) > 3)
            return kind == NAME and level != WEAK
        if kind == NAME:
            return True
        if kind == UNKNOWN:
            return len(low) > 2
        return kind == AMBIG and level == RELATION and self.stem(i) in self.lex.first

    def surname(self, k: int, confirmed: int = 0) -> bool:
        """A family name where one is expected (after initials, before a credential).  A word that is not a
        name ("Lander", "Welsh") only where the context confirms it (``confirmed`` 1: "per E. Welsh"), and a
        clinical word ("Levine") only before a credential (``confirmed`` 2: "F. Levine, RRT")."""
        v = self.v
        if v.kind[k] == TYPO and not confirmed:
            return False
        if self.ok(k, EXTEND):
            return True
        if not v.alpha(k) or len(self.stem(k)) < 2:
            return False
        low = self.stem(k)
        if low in self.ctx.function_words or low in self.ctx.context_words:
            return False
        if self.cased(k) and not (v.cap[k] or v.upper(k)) or self.glued_digit(k):
            return False
        if low in self.lex.not_names:
            return confirmed > 1
        return confirmed > 0 or v.kind[k] == AMBIG

    def wide_gap(self, k: int) -> bool:
        """True when token ``k`` is set apart from the one before it by a tab or several spaces (columns)."""
        gap = self.v.doc.text[self.v.ends[k - 1]:self.v.starts[k]]
        return "\t" in gap or "   " in gap

    def glued_digit(self, k: int) -> bool:
        """True when a digit follows token ``k`` without a space ("SpO2", "D5W")."""
        return k + 1 < self.n and self.v.starts[k + 1] == self.v.ends[k] and self.text(k + 1)[0].isdigit()

    def confirmed(self, k: int) -> bool:
        """True when token ``k`` is followed by a credential or a clinician cue ("RRT", ", MD", "aware")."""
        nxt = k + 2 if self.text(k + 1) == "," else k + 1
        if nxt >= self.n:
            return False
        return self.v.low[nxt] in self.ctx.credentials or self.v.matches(nxt, self.ctx.cues_after) > 0

    def first_name(self, k: int) -> bool:
        """A given name that is also a word ("Earl", "Rose"), accepted next to initials or before credentials."""
        low = self.stem(k)
        return (self.v.alpha(k) and self.v.kind[k] == AMBIG and low in self.lex.first
                and low not in self.ctx.function_words and low not in self.ctx.context_words)

    def after_first(self, k: int) -> bool:
        """A family name right after a first name: "Irene Sherwood", "JOHN LONG" is not taken."""
        v = self.v
        if not v.alpha(k) or len(v.low[k]) < 2 or v.low[k] in self.ctx.function_words or self.eponym(k):
            return False
        if self.cased(k):
            return v.cap[k] and v.low[k] not in self.ctx.context_words
        low = self.stem(k)
        return v.kind[k] == AMBIG and low in self.lex.last and (
            low not in self.lex.not_names or self.stem(k - 1) in self.lex.common_first)

    def distinct(self, k: int) -> bool:
        """A token that shows a name on its own: a dictionary or unknown word, an initial, a capitalised word."""
        v = self.v
        if len(self.text(k)) == 1:
            return self.text(k + 1) == "."
        if v.kind[k] in (NAME, UNKNOWN):
            return True
        return self.cased(k) and v.cap[k] and v.kind[k] != WORD

    def initial(self, i: int) -> bool:
        """A single-letter initial followed by a period ("J."), not glued to a word or number before it."""
        if not self.chained_initial(i):
            return False
        start = self.v.starts[i]
        return start == 0 or self.v.doc.text[start - 1] in INITIAL_BEFORE

    def chained_initial(self, i: int) -> bool:
        """A single letter followed by a period."""
        return len(self.text(i)) == 1 and self.v.alpha(i) and self.text(i + 1) == "."

    def after_initials(self, i: int, context: bool = False, alone: bool = False) -> int:
        """End of "J. Smith" / "J.K. Smith" starting at the first initial; ``i`` when no name follows.
        ``context``: a name context precedes the initials ("per J. Smith"); ``alone``: the context is strong
        enough for initials without a family name ("wife J.S.")."""
        k = i
        while self.chained_initial(k) and k - i < 6:
            k += 2
        only = k if alone and k >= i + 4 and self.initials_only(i, k) else i
        if k >= self.n or self.v.newline_before[k] or self.eponym(k):
            return only
        kind, confirmed = self.v.kind[k], 2 if self.confirmed(k) else int(context)
        if k == i + 2 and self.v.low[i] in SIDES and kind in (WORD, TYPO):
            return i
        if k > i + 2 and kind not in (NAME, UNKNOWN) and not confirmed:
            return i
        before = self.v.low[i - 1] if i > 0 else ""
        open_before = not self.v.alpha(i - 1) or before in self.ctx.function_words
        if self.surname(k, confirmed) or (kind == TYPO and (confirmed or open_before)):
            return k + 1
        return only

    def bare_initial(self, j: int) -> bool:
        """A single letter without a period before a family name in context ("per d ross")."""
        k = j + 1
        if len(self.text(j)) != 1 or not self.v.alpha(j) or k >= self.n or self.v.newline_before[k]:
            return False
        if self.v.starts[k] != self.v.ends[j] + 1 or self.v.low[j] in SIDES | self.ctx.function_words:
            return False
        return self.v.kind[k] == NAME or (self.v.kind[k] == AMBIG and self.stem(k) in self.lex.last
                                          and self.v.low[k] not in self.ctx.function_words)

    def initials_only(self, i: int, k: int) -> bool:
        """Capital initials standing for a name ("J.S."), not an abbreviation written with periods ("P.O.")."""
        letters = "".join(self.text(m) for m in range(i, k, 2))
        return letters.isupper() and letters.lower() not in self.ctx.period_abbreviations

    def inverted(self, j: int) -> bool:
        """"Last, First" order: a family name, a comma, then a given name ("WHITE, JOHN")."""
        return (self.stem(j) in self.lex.last and self.text(j + 1) == "," and self.v.alpha(j + 2)
                and self.stem(j + 2) in self.lex.first and self.v.kind[j + 2] in (NAME, AMBIG)
                and not self.v.newline_before[j + 2])

    def phrase(self, j: int, level: str) -> int:
        """End (exclusive) of the name that starts at token ``j``; ``j`` when there is none."""
        if self.initial(j):
            return self.after_initials(j, context=level != EXTEND, alone=level in (STRONG, RELATION, MEDIUM))
        if level != EXTEND and self.bare_initial(j):
            return j + 2
        if level in (STRONG, RELATION) and self.inverted(j):
            return j + 1
        if not self.ok(j, level) or (level != STRONG and self.eponym(j)):
            return j
        end, count = j + 1, 1
        while count < MAX_NAME_TOKENS and end < self.n and not self.v.newline_before[end] and not self.wide_gap(end):
            if self.chained_initial(end) and self.surname(end + 2, 1):
                end += 2
            elif self.v.low[end] in self.ctx.particles and self.surname(end + 1):
                end, count = end + 2, count + 1
            elif (self.ok(end, EXTEND) or (self.stem(end - 1) in self.lex.first and self.after_first(end))) \
                    and not self.eponym(end):
                end, count = end + 1, count + 1
            else:
                break
        return end

    def left(self, start: int, surname: bool = False) -> int:
        """Extend a name leftwards from token ``start`` over names and initials on the same line; with
        ``surname`` the first word may be a confirmed family name (a credential follows)."""
        confirmed = surname
        for _ in range(MAX_NAME_TOKENS):
            if start <= 0 or self.v.newline_before[start]:
                break
            k = start - 1
            if self.text(k) == "." and self.chained_initial(k - 1) and start < self.n and self.v.alpha(start):
                start -= 2
            elif self.surname(k, 2) if surname else (
                    self.ok(k, EXTEND) or ((confirmed or self.initial(start)) and self.first_name(k))):
                start -= 1
            else:
                break
            surname = False
        return start

    def named(self, j: int, level: str, score: float | None = None) -> int:
        """Take the name at ``j`` and any list of names after it ("Sons Tom, Dick and Harry")."""
        end = self.phrase(j, level)
        if end == j:
            return j
        score = SCORES[level] if score is None else score
        self.take(j, end, score)
        while end < self.n and self.v.low[end] in (",", "and", "&"):
            nxt = self.phrase(end + 1, RELATION if level == RELATION else MEDIUM)
            if nxt == end + 1:
                break
            self.take(end + 1, nxt, score)
            end = nxt
        return end

    def after_context(self, j: int, level: str) -> None:
        """The name after a context word, past connectors such as "," "(" ":" "is"."""
        start = j
        for _ in range(3):
            if j < self.n and self.v.low[j] in self.ctx.connectors:
                j += 1
        if level == RELATION and j == start and self.text(j) == "." and self.v.kind[j + 1:j + 2] == [NAME]:
            j += 1
        if j < self.n and self.v.low[j] not in self.ctx.titles and (j == start or self.v.kind[j] != WORD):
            self.named(j, level)

    def dictionary_name(self, i: int) -> bool:
        """A dictionary name that is not a word: any first name, and capitalised last names in mixed case."""
        v = self.v
        if v.kind[i] != NAME or len(self.stem(i)) < 3 or v.low[i] in self.ctx.context_words:
            return False
        if self.cased(i):
            return v.cap[i]
        return self.stem(i) in self.lex.common_first

    def glued(self, i: int) -> None:
        """Hyphen-glued context and name: "DAUGHTER-KRISSY", "REASSON-DR. SMITH", "CARAFATE-W. JONES"."""
        parts = self.v.texts[i].split("-")
        offset = self.v.starts[i]
        for n, part in enumerate(parts[:-1]):
            offset += len(part) + 1
            nxt = parts[n + 1]
            if part.lower() in self.ctx.context_words and len(nxt) > 1:
                kind = self.lex.kind(nxt.lower())
                if kind in (NAME, UNKNOWN) or (kind == AMBIG and nxt.lower() in self.lex.first):
                    self.parts.append(PhiSpan(offset, offset + len(nxt), "NAME", SCORES[RELATION], "names"))
        last = parts[-1].lower()
        if (last,) in self.ctx.relations.get(last, ()):
            self.after_context(i + 1, RELATION)
        elif (last,) in self.ctx.roles.get(last, ()):
            self.after_context(i + 1, MEDIUM)
        elif last in self.ctx.titles:
            self.named(i + 2 if self.text(i + 1) == "." else i + 1, STRONG)
        elif len(last) == 1 and last.isalpha() and self.text(i + 1) == "." and self.surname(i + 2, 1):
            self.take(i + 2, i + 3, SCORES[MEDIUM])
            self.parts.append(PhiSpan(self.v.ends[i] - 1, self.v.ends[i], "NAME", SCORES[MEDIUM], "names"))
