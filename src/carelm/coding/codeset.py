"""Names of ICD-10-CM codes drawn from the code set itself, beyond their descriptions.

Besides a code's own inclusion terms and "includes" notes, the tabular list names many conditions in the
"excludes" notes of *other* codes, each followed by the code it belongs to: ``"juvenile tabes dorsalis
(A50.45)"`` under A52.1 says that juvenile tabes dorsalis is coded A50.45.  Those references are synonyms
too.  :func:`synonym_pairs` gathers every such ``(name, code)`` pair, the material the coder's dictionary and
encoder tuning learn from.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

# "name (A50.45)", "name (N44.0-)", "name (O09.82-)": the name, then one code, optionally open-ended.
_REFERENCE = re.compile(r"^(?P<name>.*?\S)\s*\((?P<code>[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)-?(?:\.-)?\)\s*$")


@lru_cache(maxsize=1)
def references() -> tuple[tuple[str, str], ...]:
    """``(name, code)`` pairs read from every "excludes1" and "excludes2" note that names exactly one code.

    Codes are dotted; a reference to a chapter, block or unknown code is left out.
    """
    import simple_icd_10_cm as icd

    pairs = []
    for code in icd.get_all_codes(True):
        for note in (*icd.get_excludes1(code), *icd.get_excludes2(code)):
            found = _REFERENCE.match(note)
            if found is None or not icd.is_valid_item(found["code"]):
                continue
            target = found["code"]  # already dotted: the pattern captures the dot (add_dot scans the code list)
            if not icd.is_chapter_or_block(target):
                pairs.append((found["name"], target))
    return tuple(dict.fromkeys(pairs))


def synonym_pairs(held_out_codes: Collection[str] = (), held_out_texts: Collection[str] = ()) -> list[tuple[str, str]]:
    """``(name, code)`` pairs: inclusion terms and "includes" notes of every category, subcategory and code
    (7th-character extensions left out), then :func:`references`; deduplicated, in code-set order.

    ``held_out_codes`` lose their own inclusion terms, includes and the references naming them; any pair whose
    name, compared by ``carelm.coding.icd10.normalise``, is one of ``held_out_texts`` is dropped (so an
    evaluation's queries are never learnt, whatever note they come from).
    """
    import simple_icd_10_cm as icd

    from carelm.coding.icd10 import normalise

    pairs: list[tuple[str, str]] = []
    for code in icd.get_all_codes(True):
        if icd.is_chapter_or_block(code) or icd.is_extended_subcategory(code) or code in held_out_codes:
            continue
        pairs += [(name, code) for name in (*icd.get_inclusion_term(code), *icd.get_includes(code))]
    pairs += [(name, code) for name, code in references() if code not in held_out_codes]
    dropped = {normalise(text) for text in held_out_texts}
    return [pair for pair in dict.fromkeys(pairs) if normalise(pair[0]) not in dropped]
