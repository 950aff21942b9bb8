"""Places: hospitals and other facilities, towns and cities, and states in address context.

- HOSPITAL: a name before a facility word ("Holy Name Hospital", "Kessler Rehab", "Grieco House"), a saint's
  name ("St. Agnes"), or a name after a move ("transferred from X", "admitted to X", "went to X");
- LOCATION: other named places (a named unit or building, "X Building", a workplace after "works at");
- CITY: a gazetteer city, or an unknown name after a residence cue ("lives in X", "flying in from X");
- STATE: a state after a city ("Annapolis, MD"); Safe Harbor allows states, they are flagged in addresses only;
- LOCATION also for a country in place context ("visiting from Peru", "Lima, Peru"), an unknown capitalised word
  after "in"/"from"/"at", and HOSPITAL for an unknown capitals abbreviation after "at" ("cx sent at QMH").

All the context is data (``resources/deid/location_context.json``); one pass over the tokens.
"""

from __future__ import annotations

from carelm.deid.base import DeidDoc, PhiSpan, Recognizer
from carelm.deid.lexicon import (
    AMBIG,
    NAME,
    TYPO,
    UNKNOWN,
    WORD,
    Lexicon,
    Triggers,
    lexicon,
    load_context,
    phrase_index,
    read_list,
    token_view,
)
from carelm.deid.place_rules import PlaceRules

CONTEXT_FILE = "location_context.json"
CONTEXT_KEYS = frozenset({
    "hospital_heads", "location_heads", "name_words", "generic_words", "facility_words", "saints", "movement_verbs",
    "movement_preps", "residence_cues", "known_places", "stop_words",
})
SCORES = {"HOSPITAL": 0.8, "LOCATION": 0.7, "CITY": 0.75, "STATE": 0.6}
GAZETTEER = 0.65
MOVE_REACH = 4
WEAK_HEADS = frozenset({"house", "home", "center", "centre", "general", "health", "medical", "campus", "care", "rehab",
                        "rehabilitation", "village", "station", "plant", "church", "memorial", "regional", "hospice"})
DEPARTMENTS = frozenset({"ed", "er", "ew", "eds", "ers", "cath", "emergency"})
DWELLINGS = frozenset({"house", "home", "apartment", "apt", "place", "farm", "condo", "trailer"})
WORK_VERBS = frozenset({"works", "worked", "work", "working", "employed", "visit", "visiting"})
UNKNOWN_PLACE_PREPS = frozenset({"in", "from", "to", "at", "near", "@"})
FACILITY_PREPS = frozenset({"at", "@"})


class PlaceContext:
    """The compiled place context rules."""

    def __init__(self, data: dict[str, list[str]], lex: Lexicon):
        self.hospital_heads = phrase_index(data["hospital_heads"])
        self.location_heads = phrase_index(data["location_heads"])
        self.name_words = frozenset(data["name_words"])
        self.generic_words = frozenset(data["generic_words"])
        self.facility_words = frozenset(data["facility_words"])
        self.saints = frozenset(data["saints"])
        self.movement_verbs = phrase_index(data["movement_verbs"])
        self.movement_preps = frozenset(data["movement_preps"])
        self.residence_cues = phrase_index(data["residence_cues"])
        self.known_places = frozenset(data["known_places"])
        self.stop_words = frozenset(data["stop_words"])
        self.cities = phrase_index(sorted(lex.cities))
        self.states = lex.states
        self.state_names = phrase_index(sorted(set(lex.states.values())))
        self.countries = phrase_index(sorted(read_list("countries.txt", phrases=True)))
        # Where the rules of _PlaceFinder.run may apply.
        self.triggers = Triggers.of(
            (self.hospital_heads, self.location_heads, self.movement_verbs, self.residence_cues, self.countries,
             self.cities),
            words=self.saints | self.facility_words | self.movement_preps | UNKNOWN_PLACE_PREPS | FACILITY_PREPS)


class _PlaceFinder(PlaceRules):
    """One pass of the place rules over one note."""

    def heads(self, i: int) -> None:
        """A facility name before a facility word: "Holy Cross Hospital", "Kessler Medical Center"."""
        for index, kind in ((self.ctx.hospital_heads, "HOSPITAL"), (self.ctx.location_heads, "LOCATION")):
            size = self.v.matches(i, index)
            if size:
                start = self.name_left(i, capitals=self.v.low[i] not in WEAK_HEADS)
                if start == i and kind == "HOSPITAL" and self.v.low[i] not in WEAK_HEADS and self.generic_name(i - 1):
                    start = i - 1
                if start < i:
                    self.add(start, i + size, kind, SCORES[kind])
                return

    def facility_word(self, i: int) -> None:
        """Words found in clinical notes only as part of a facility name: "Holy Cross", "Good Samaritan"."""
        end = self.name_right(i + 1)
        end += self.v.matches(end, self.ctx.hospital_heads)
        self.add(self.name_left(i, capitals=True) if i else i, end, "HOSPITAL", SCORES["HOSPITAL"])

    def saint(self, i: int) -> None:
        """A saint's name: "St. Agnes", "ST MARY HOSPITAL", "Saint Joseph's"."""
        j = i + 2 if self.text(i + 1) == "." else i + 1
        if j < self.n and not self.v.newline_before[j] and self.saint_name(i, j):
            end = self.name_right(j + 1)
            size = self.v.matches(end, self.ctx.hospital_heads)
            self.add(i, end + size, "HOSPITAL", SCORES["HOSPITAL"])

    def moved(self, i: int) -> None:
        """A place after a move: "transferred to X", "admitted from X", "works at X"."""
        verb = self.verb_before(i)
        if verb is None:
            return
        j = i + 1 + (self.v.low[i + 1:i + 2] == ["the"])
        if len(self.text(j)) > 2 and self.text(j).isdigit():
            j += 1
        city, end = self.city_at(j), self.place_run(j)
        if city and city >= end:
            self.add(j, city, "CITY", SCORES["CITY"])
            self.state_after(city)
            return
        end = end if end > j else self.headed(j)
        if end > j:
            digit = self.text(end)[:1].isdigit()
            kind = "LOCATION" if digit or verb in WORK_VERBS else "HOSPITAL"
            self.add(j, end + self.v.matches(end, self.ctx.hospital_heads), kind, SCORES[kind])

    def headed(self, j: int) -> int:
        """End of a one- or two-word name and a facility word after a move ("taken to Laurel Regional")."""
        for k in (j + 1, j + 2):
            if all(self.v.alpha(m) and self.v.low[m] not in self.ctx.stop_words and not self.v.newline_before[m]
                   and (self.v.kind[m] != WORD or self.place_word(m)) for m in range(j, k)):
                size = self.v.matches(k, self.ctx.hospital_heads)
                if size:
                    return k + size
        return j

    def abbreviation(self, i: int) -> None:
        """An unknown abbreviation before a department ("MGH ED", "to bch cath lab"); marked all through the note."""
        v = self.v
        if not (v.upper(i) or v.caseless) or not 2 <= len(v.low[i]) <= 4 or v.kind[i] != UNKNOWN:
            return
        if v.low[i] in self.ctx.known_places or v.newline_before[i]:
            return
        department = i + 1 < self.n and v.low[i + 1] in DEPARTMENTS and not v.newline_before[i + 1]
        if department:
            self.hospital_everywhere(i)

    def hospital_everywhere(self, i: int) -> None:
        """Mark token ``i`` and every other token written the same way as a hospital."""
        text = self.text(i)
        for k in self.v.positions[self.v.low[i]]:
            if self.text(k) == text:
                self.add(k, k + 1, "HOSPITAL", SCORES["HOSPITAL"])

    def unknown_place(self, j: int) -> None:
        """A capitalised word known neither as a word nor as a name after "in", "from", "at" in a mixed-case
        note ("flew in from Qarvik"): taken as a place."""
        v = self.v
        if j >= self.n or v.newline_before[j] or not v.alpha(j) or v.kind[j] != UNKNOWN or self.city_at(j):
            return
        if not (self.cased(j) and v.cap[j] and self.text(j)[1:].islower()) or len(v.low[j]) < 4:
            return
        end = self.name_right(j + 1)
        if not self.eponym_after(end):
            self.add(j, end, "LOCATION", SCORES["LOCATION"])

    def facility_abbreviation(self, j: int) -> None:
        """An unknown capitals abbreviation after "at" or "@" in a mixed-case note ("labs drawn at QMH"),
        marked all through the note."""
        v = self.v
        if j >= self.n or v.newline_before[j] or not v.upper(j) or v.doc.mostly_upper or not 2 <= len(v.low[j]) <= 4:
            return
        if v.kind[j] != UNKNOWN or v.low[j] in self.ctx.known_places or self.text(j + 1)[:1].isdigit():
            return
        self.hospital_everywhere(j)

    def dwelling(self, i: int) -> None:
        """A named person's home as a place: "staying at Ann Lee's house"."""
        v, start = self.v, i
        while start > 0 and i - start < 3 and v.alpha(start - 1) and v.kind[start - 1] in (NAME, UNKNOWN, AMBIG) \
                and v.low[start - 1] not in self.ctx.stop_words and not v.newline_before[start]:
            start -= 1
        named = any(v.kind[k] in (NAME, UNKNOWN) or v.low[k].removesuffix("'s") in self.lex.first
                    for k in range(start, i + 1))
        if named and start > 0 and v.low[start - 1] in self.ctx.movement_preps and v.kind[i] != WORD:
            self.add(start, i + 1, "LOCATION", SCORES["LOCATION"])

    def unit(self, i: int) -> None:
        """A named unit right after a move, before its floor number: "transfer Smith 2"."""
        j = i + 1
        end = self.place_run(j)
        if end > j and self.floor_number(end):
            self.add(j, end, "LOCATION", SCORES["LOCATION"])

    def floor_number(self, k: int) -> bool:
        """A floor or unit number after a name ("Smith 2", "Smith2"), not a dose ("MSO4 2MG")."""
        text = self.text(k)
        return text.isdigit() and len(text) <= 2 and not self.v.alpha(k + 1) or (
            text.isdigit() and len(text) <= 2 and self.v.starts[k + 1] > self.v.ends[k])

    def residence(self, i: int, size: int) -> None:
        """A town after a residence cue: "lives in X", "daughter flying in from X"."""
        j = i + size
        j += self.v.low[j:j + 1] == ["the"]
        end = self.city_at(j)
        kind = "CITY"
        if not end:
            end = self.place_run(j, loose=True)
            kind = "LOCATION"
        if end > j:
            self.add(j, end, kind, SCORES[kind])
            self.state_after(end)

    def gazetteer(self, i: int) -> int:
        """A known city anywhere (multi-word names, or one word that is not an English word)."""
        end = self.city_at(i)
        if not end or self.eponym_after(end):
            return 0
        v = self.v
        single = end == i + 1
        address = self.text(end) == "," and v.low[end + 1:end + 2] and v.low[end + 1] in self.ctx.states
        if single and not address and (v.kind[i] not in (NAME, UNKNOWN, TYPO) or len(v.low[i]) < 4):
            return 0
        if self.cased(i) and not v.cap[i]:
            return 0
        self.add(i, end, "CITY", GAZETTEER)
        self.state_after(end)
        return end

    def country(self, i: int) -> int:
        """A country ("in Peru", "Lima, Peru", "Norway 0150"); a city written before it ("Lima, Peru")."""
        v = self.v
        size = v.matches(i, self.ctx.countries)
        if not size or not self.country_ok(i, size):
            return 0
        self.add(i, i + size, "LOCATION", GAZETTEER)
        if i > 1 and self.text(i - 1) == "," and not v.newline_before[i - 1]:
            start = self.name_left(i - 1, capitals=True)
            if start < i - 1:
                self.add(start, i - 1, "CITY", GAZETTEER)
        return i + size

    def candidates(self) -> list[int]:
        """The tokens at which some rule of :meth:`run` may apply, in order: context words, the first words of
        facility, place and cue phrases, a possessive before a dwelling, a word before a department.  Most tokens
        of a note are none of these."""
        v, ctx, low = self.v, self.ctx, self.v.low
        found = ctx.triggers.tokens(v)
        found += [i - 1 for i in v.at(DWELLINGS) if i and low[i - 1].endswith("'s")]
        found += [i - 1 for i in v.at(DEPARTMENTS) if i]  # an abbreviation before a department
        return sorted(set(found))

    def run(self) -> list[PhiSpan]:
        """Apply every rule at every token where one may apply; returns the place spans, one per place and type.
        A country or city found at a token is passed over whole.  A rule added here needs its tokens in
        :meth:`candidates`."""
        v, ctx = self.v, self.ctx
        resume = 0
        for i in self.candidates():
            if i < resume:
                continue
            low = v.low[i]
            self.heads(i)
            if low in ctx.saints:
                self.saint(i)
            if low in ctx.facility_words:
                self.facility_word(i)
            if low in ctx.movement_preps:
                self.moved(i)
                if low in ("to", "from"):
                    self.unit(i)
            elif v.matches(i, ctx.movement_verbs):
                self.unit(i)
            if low.endswith("'s") and v.low[i + 1:i + 2] and v.low[i + 1] in DWELLINGS:
                self.dwelling(i)
            if low[0].isalpha() and low not in DEPARTMENTS:
                self.abbreviation(i)
            size = v.matches(i, ctx.residence_cues)
            if size:
                self.residence(i, size)
            if low in UNKNOWN_PLACE_PREPS:
                self.unknown_place(i + 1)
            if low in FACILITY_PREPS:
                self.facility_abbreviation(i + 1)
            end = self.country(i) if v.alpha(i) else 0
            end = end or (self.gazetteer(i) if v.alpha(i) else 0)
            resume = max(end, i + 1)
        return unique(self.spans)


def unique(spans: list[PhiSpan]) -> list[PhiSpan]:
    """One span per place and type (the best scored), in text order."""
    best: dict[tuple[int, int, str], PhiSpan] = {}
    for span in spans:
        key = (span.start, span.end, span.type)
        if key not in best or best[key].score < span.score:
            best[key] = span
    return sorted(best.values(), key=lambda s: (s.start, s.end))


class LocationRecognizer(Recognizer):
    """Hospitals, other named places, cities and (in addresses) states."""

    name = "locations"
    types = ("HOSPITAL", "LOCATION", "CITY", "STATE")

    def __init__(self) -> None:
        self.ctx: PlaceContext | None = None
        self.lex: Lexicon | None = None

    def load(self) -> None:
        """Read the context file and the lexicon (once)."""
        if self.ctx is None:
            self.lex = lexicon()
            self.ctx = PlaceContext(load_context(CONTEXT_FILE, CONTEXT_KEYS), self.lex)

    def find(self, doc: DeidDoc) -> list[PhiSpan]:
        """HOSPITAL, LOCATION, CITY and STATE spans of one note."""
        self.load()
        assert self.ctx is not None and self.lex is not None
        return _PlaceFinder(token_view(doc), self.ctx, self.lex).run()


def recognizers() -> list[Recognizer]:
    """The place recognizers of the default engine."""
    return [LocationRecognizer()]


