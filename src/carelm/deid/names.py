"""Person names: patients, relatives and clinicians, in mixed-case, lower-case and all-capitals notes.

Recall comes from context (titles, relation words, clinician roles and credentials, "per"/"d/w"/"aware"
cues, initials, signatures) and from the first/last name dictionaries; precision from the lexicon kinds
(:mod:`carelm.deid.lexicon`): a known English or clinical word is taken only after a title.  Where a note
is typed in one case, capitalisation says nothing and unknown words count as name-like instead.
The rules themselves are data (``resources/deid/name_context.json``).
"""

from __future__ import annotations

from carelm.deid.base import DeidDoc, PhiSpan, Recognizer
from carelm.deid.lexicon import (
    NAME,
    Lexicon,
    TokenView,
    Triggers,
    lexicon,
    load_context,
    phrase_index,
    phrase_key,
    token_view,
)
from carelm.deid.name_rules import DICTIONARY, MEDIUM, RELATION, SCORES, STRONG, WEAK, NameRules

CONTEXT_FILE = "name_context.json"
PHONE_LEAD = frozenset("#:(=")
PHONE_GLUE = frozenset("()-.")
PHONE_SHAPES = frozenset({(3, 3, 4), (3, 4), (10,), (7,)})
PHONE_SHAPES_ALONE = frozenset({(3, 3, 4), (10,)})
PHONE_OPENINGS = frozenset(shape[0] for shape in PHONE_SHAPES_ALONE)  # digits of a number opening a phone number
RELATION_OPENERS = ("(", ",")  # before a relation word: "Hank Smith (son)", "Mary Jones, daughter"
INTRODUCTION, INTRODUCED = "is", ("a", "an")  # "Jane Doe is a 70 yo ..."
CONTEXT_KEYS = frozenset({
    "titles", "weak_titles", "relations", "relations_after", "roles", "patient_words", "period_abbreviations",
    "credentials", "comma_credentials", "phone_words",
    "cues_before", "cues_after", "connectors", "particles", "stop_after_title", "function_words", "eponym_heads",
})


class NameContext:
    """The compiled name context rules."""

    def __init__(self, data: dict[str, list[str]]):
        self.titles = frozenset(data["titles"])
        self.weak_titles = frozenset(data["weak_titles"])
        self.relations = phrase_index(data["relations"])
        self.relations_after = phrase_index(data["relations_after"])
        self.roles = phrase_index(data["roles"])
        self.credentials = frozenset(data["credentials"])
        self.comma_credentials = frozenset(data["comma_credentials"])
        self.phone_words = frozenset(data["phone_words"])
        self.cues_before = phrase_index(data["cues_before"])
        self.cues_after = phrase_index(data["cues_after"])
        self.connectors = frozenset(data["connectors"])
        self.particles = frozenset(data["particles"])
        self.function_words = frozenset(data["function_words"])
        self.stop_after_title = frozenset(data["stop_after_title"]) | self.function_words
        self.eponym_heads = frozenset(data["eponym_heads"])
        self.patient_words = frozenset(data["patient_words"])
        self.period_abbreviations = frozenset(data["period_abbreviations"])
        single = {p for key in ("relations", "roles") for p in data[key] if len(phrase_key(p)) == 1}
        self.context_words = (frozenset(single) | self.titles | self.credentials | self.comma_credentials
                              | self.patient_words)
        # Where the rules of _NameFinder.run may apply; "(" may open a phone number or a relation ("(son)").
        self.triggers = Triggers.of(
            (self.relations, self.roles, self.cues_before, self.cues_after),
            words=(*self.titles, *self.credentials, *self.comma_credentials, *self.phone_words, *self.patient_words,
                   "("),
            pairs=[(INTRODUCTION, word) for word in INTRODUCED])


class _NameFinder(NameRules):
    """One pass of the name rules over one note."""

    def title(self, i: int) -> None:
        """The name after a title ("Dr. Smith"; "Mr"/"Ms" only before a name-like word in one-case notes)."""
        v = self.v
        weak = v.low[i] in self.ctx.weak_titles and not (self.cased(i) and v.cap[i])
        j = i + 2 if self.text(i + 1) == "." else i + 1
        if self.named(j, MEDIUM if weak else STRONG) == j and self.letter_name(j):
            self.take(j, j + 1, SCORES[MEDIUM])

    def letter_name(self, j: int) -> bool:
        """A capital letter standing for a name after a title ("Mr B remains", "Ms K." at the end)."""
        text = self.text(j)
        nxt = self.text(j + 1)
        return len(text) == 1 and text.isupper() and not self.v.newline_before[j] and (
            nxt in ("", ".", ",", ";") or self.v.alpha(j + 1) and not self.v.upper(j + 1))

    def credential(self, i: int) -> None:
        """Names before a credential: "J. Smith, RN", "Mary Jones RN"."""
        p = i - 1
        comma = self.text(p) == ","
        p -= comma
        if (self.v.low[i] in self.ctx.comma_credentials or self.v.newline_before[i]) and not comma:
            return
        if self.text(p) == "." and self.chained_initial(p - 1):
            self.credential_initials(p - 1)
            return
        if p < 0 or not self.v.alpha(p) or (self.v.newline_before[p + 1] and not comma):
            return
        if self.text(i + 1)[:1].isdigit():
            return
        start = self.left(p + 1, surname=True)
        if start <= p and any(self.distinct(k) for k in range(start, p + 1)):
            self.take(start, p + 1, SCORES[MEDIUM])

    def credential_initials(self, last: int) -> None:
        """Initials alone before a credential: "J.E., RN"."""
        start = last
        while start >= 2 and self.text(start - 1) == "." and self.chained_initial(start - 2):
            start -= 2
        if self.initial(start) and self.initials_only(start, last + 2):
            self.take(self.left(start), last + 2, SCORES[MEDIUM])

    def cue_after(self, i: int) -> None:
        """A name before "aware", "notified", "in to see"."""
        c = i - 1
        if c >= 0 and not self.v.newline_before[i] and self.ok(c, WEAK) and self.v.low[c] not in self.ctx.titles:
            self.take(self.left(c), c + 1, SCORES[WEAK])

    def phone_owner(self, i: int) -> None:
        """A name right before a phone number: "Jo Ames cell# 555-201-3344", "Jo Ames: (555) 201-3344"."""
        v, k = self.v, i
        while k < self.n and (v.low[k] in self.ctx.phone_words or self.text(k) in PHONE_LEAD):
            k += 1
        c = i - 1 - (self.text(i - 1) in (",", ":", "-"))
        if self.phone_at(k, cued=k > i) and c >= 0 and not v.newline_before[c + 1] and self.ok(c, WEAK):
            self.take(self.left(c), c + 1, SCORES[WEAK])

    def phone_at(self, k: int, cued: bool) -> bool:
        """True when a phone number starts at token ``k``: digit groups 3-3-4 or ten digits, and after a phone
        word ("cell", "#") also 3-4 or seven digits (else "500-1000" is a range)."""
        groups: list[int] = []
        while k < self.n and len(groups) < 3:
            if self.text(k).isdigit():
                groups.append(len(self.text(k)))
            elif self.text(k) not in PHONE_GLUE or not groups:
                break
            k += 1
        shapes = PHONE_SHAPES if cued else PHONE_SHAPES_ALONE
        return tuple(groups) in shapes and self.text(k) not in ("/", ".") and not self.text(k).isdigit()

    def relation_after(self, i: int) -> None:
        """Names before "(son)" or ", daughter": "Hank Smith (son)"."""
        size = self.v.matches(i + 1, self.ctx.relations_after)
        if size and self.text(i) in RELATION_OPENERS and i > 0 and self.ok(i - 1, RELATION):
            self.take(self.left(i - 1), i, SCORES[RELATION])

    def introduction(self, i: int) -> None:
        """The patient named before "is a 70 yo ..."."""
        if self.text(i + 1).lower() in INTRODUCED and self.text(i + 2).isdigit() and self.ok(i - 1, WEAK):
            self.take(self.left(i - 1), i, SCORES[WEAK])

    def patient_named(self, i: int) -> None:
        """Two capitalised words after "patient" in a mixed-case note: "Patient Jane Doe was seen"."""
        v, j = self.v, i + 1
        if v.caseless or j + 1 >= self.n:
            return
        pair = (j, j + 1)
        if all(v.alpha(k) and self.cased(k) and v.cap[k] and not self.eponym(k) for k in pair):
            self.take(j, j + 2, SCORES[MEDIUM])

    def initials(self, i: int) -> None:
        """Initials and a family name ("E. Welsh"), or initials alone after "pt" ("Pt J.S.")."""
        context = i > 0 and self.v.low[i - 1] in self.ctx.patient_words
        end = self.after_initials(i, context=context, alone=context)
        if end > i:
            self.take(i if context else self.left(i), end, SCORES[MEDIUM])

    def dictionary(self, i: int) -> None:
        """A first name anywhere (any capitalised dictionary name in mixed-case notes)."""
        if self.dictionary_name(i) and not self.eponym(i):
            self.named(i, MEDIUM, DICTIONARY)

    def signature(self) -> None:
        """A short last line made only of name-like words ("Mary Smith", "J. Smith RN")."""
        v = self.v
        start = next((i for i in range(self.n - 1, -1, -1) if v.newline_before[i]), 0)
        words = [i for i in range(start, self.n) if v.alpha(i)]
        names = [i for i in words if v.low[i] not in self.ctx.credentials and len(v.low[i]) > 1]
        if 2 <= len(names) <= 4 and len(words) <= 5 and all(self.ok(i, MEDIUM) for i in names):
            self.take(names[0], names[-1] + 1, SCORES[MEDIUM])

    def candidates(self) -> list[int]:
        """The tokens at which some rule of :meth:`run` may apply, in order: context words and phrases, hyphenated
        words, dictionary names, numbers that may open a phone number, a comma before a relation, initials.  Most
        tokens of a note are none of these."""
        v, ctx = self.v, self.ctx
        low, texts = v.low, v.texts
        words = v.positions.keys()
        found = ctx.triggers.tokens(v)
        found += v.at(w for w in words if "-" in w or v.kind_of[w] == NAME)  # glued context, dictionary names
        numbers = (w for w in words if w.isdigit() and len(w) in PHONE_OPENINGS)
        found += [i for i in v.at(numbers) if v.alpha(i - 1)]  # a phone number after its owner's name
        found += [i - 1 for i in v.at(ctx.relations_after.keys()) if i and low[i - 1] in RELATION_OPENERS]
        found += [i - 1 for i in v.at((".",)) if i and len(texts[i - 1]) == 1]  # initials
        return sorted(set(found))

    def run(self) -> dict[int, float]:
        """Apply every rule at every token where one may apply, then the signature rule; returns token index ->
        score.  A rule added here needs its tokens in :meth:`candidates`."""
        v, ctx = self.v, self.ctx
        for i in self.candidates():
            low = v.low[i]
            if "-" in low:
                self.glued(i)
            if low in ctx.titles:
                self.title(i)
            glued_to_number = i > 0 and v.ends[i - 1] == v.starts[i] and self.text(i - 1).isdigit()
            for index, level in ((ctx.relations, RELATION), (ctx.roles, MEDIUM), (ctx.cues_before, WEAK)):
                size = v.matches(i, index)
                if size and not glued_to_number:
                    self.after_context(i + size, level)
            if (low in ctx.credentials or low in ctx.comma_credentials) and not glued_to_number:
                self.credential(i)
            if v.matches(i, ctx.cues_after):
                self.cue_after(i)
            elif low in ctx.phone_words or low == "(" or (low[0].isdigit() and v.alpha(i - 1)):
                self.phone_owner(i)
            if low in RELATION_OPENERS:
                self.relation_after(i)
            if low == INTRODUCTION:
                self.introduction(i)
            if low in ctx.patient_words:
                self.patient_named(i)
            if self.initial(i):
                self.initials(i)
            self.dictionary(i)
        self.signature()
        return self.found


def spans_from_tokens(view: TokenView, found: dict[int, float], phi_type: str, source: str) -> list[PhiSpan]:
    """Join runs of consecutive marked tokens into spans scored by their best token."""
    spans: list[PhiSpan] = []
    for i in sorted(found):
        if spans and i - 1 in found and spans[-1].end == view.ends[i - 1] and not view.newline_before[i]:
            spans[-1].end = view.ends[i]
            spans[-1].score = max(spans[-1].score, found[i])
        else:
            spans.append(PhiSpan(view.starts[i], view.ends[i], phi_type, found[i], source))
    return spans


class NameRecognizer(Recognizer):
    """Names of patients, relatives and clinicians (type NAME)."""

    name = "names"
    types = ("NAME",)

    def __init__(self) -> None:
        self.ctx: NameContext | None = None
        self.lex: Lexicon | None = None

    def load(self) -> None:
        """Read the context file and the lexicon (once)."""
        if self.ctx is None:
            self.ctx = NameContext(load_context(CONTEXT_FILE, CONTEXT_KEYS))
            self.lex = lexicon()

    def find(self, doc: DeidDoc) -> list[PhiSpan]:
        """NAME spans of one note."""
        self.load()
        assert self.ctx is not None and self.lex is not None
        view = token_view(doc)
        finder = _NameFinder(view, self.ctx, self.lex)
        spans = spans_from_tokens(view, finder.run(), "NAME", self.name) + finder.parts
        return [s for s in spans if doc.text[s.start:s.end].strip(".") != ""]


def recognizers() -> list[Recognizer]:
    """The name recognizers of the default engine."""
    return [NameRecognizer()]
