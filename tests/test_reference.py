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


def test_every_cross_reference_in_a_docstring_resolves():
    """``:class:`~seqtasks....``` and the other roles name something that exists: a module or
    file moved without its references fails here."""
    import importlib
    import re
    from pathlib import Path

    role = re.compile(r":(?:class|func|meth|mod|attr|data|exc):`~?(seqtasks\.[\w.]+)`")

    def resolves(name):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            try:
                found = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for part in parts[i:]:
                    found = getattr(found, part)
            except AttributeError:
                return False
            return True
        return False

    broken = []
    for path in sorted(Path(seqtasks.__file__).parent.rglob("*.py")):
        text = re.sub(r"\.\n\s+", ".", path.read_text())  # a name wrapped after a dot
        broken += [f"{path.name}: {m.group(1)}" for m in role.finditer(text)
                   if not resolves(m.group(1))]
    assert broken == []
