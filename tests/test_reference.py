"""The API reference builds from the docstrings without a warning (a broken reference fails
here, so in CI), and its generated page holds every recipe's keys and signatures."""

import warnings

import seqtasks


def test_the_reference_builds_and_covers_the_api(tmp_path):
    from seqtasks.reference import build

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        index = build(tmp_path / "api")
    problems = [str(w.message) for w in caught if "pdoc" in w.filename]
    assert problems == []
    assert index.exists()
    layers = (tmp_path / "api" / "seqtasks" / "layers.html").read_text()
    assert all(name in layers for name in ("ElmanCell", "ElmanRNN", "TextDecoder", "Seq2Seq"))
    top = (tmp_path / "api" / "seqtasks.html").read_text()
    assert all(f'id="{name}"' in top for name in ("run", "load", "list_recipes", "load_config"))
    page = (tmp_path / "api" / "seqtasks_recipes.html").read_text()
    for name, recipe in seqtasks.list_recipes().items():
        assert f'id="{name}"' in page
        for section, keys in recipe.schema().items():
            assert all(f"<code>{section}.{key}</code>" in page for key in keys), name
        for inputs, outputs in recipe.documented_signatures.values():
            assert all(f"<code>{key}</code>" in page for key in {**inputs, **outputs})
