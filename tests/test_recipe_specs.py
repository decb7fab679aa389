"""Every recipe's spec (tests/specs.py) run the same way: its bad files and keys fail cleanly,
and its defaults reach their target on built-in data."""

import json

import pytest
from helpers import assert_clean_failure, cli, run_expecting_failure
from specs import SPECS

import seqtasks

BAD_FILES = [pytest.param(spec, case, id=f"{name}-{case.id}")
             for name, spec in sorted(SPECS.items()) for case in spec.bad_files]
BAD_KEYS = [pytest.param(spec, item, fragments, id=f"{name}-{item}")
            for name, spec in sorted(SPECS.items()) for item, *fragments in spec.bad_keys]


def test_every_registered_recipe_has_a_spec_with_bad_inputs():
    assert set(SPECS) == set(seqtasks.list_recipes())
    assert all(spec.bad_files and spec.bad_keys for spec in SPECS.values())


@pytest.mark.parametrize("spec, case", BAD_FILES)
def test_a_bad_file_stops_the_run_with_one_line_naming_it(spec, case, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name, content in case.files.items():
        content = content() if callable(content) else content
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, encoding="utf-8")
    overrides = [*spec.tiny, *(item.format(dir=folder) for item in case.overrides)]
    assert_clean_failure(run_expecting_failure(spec.name, tmp_path, overrides),
                         *case.fragments)


@pytest.mark.parametrize("spec, item, fragments", BAD_KEYS)
def test_a_bad_key_is_refused_before_anything_is_read(spec, item, fragments, tmp_path):
    result = cli("run", spec.name, "--set", item, "--output", tmp_path / "run")
    assert_clean_failure(result, *fragments)
    assert not list(tmp_path.iterdir())


#: Default runs of 5-7 minutes alone (12-15 beside another test worker): the tests run them
#: only with ``pytest --run-long``; benchmarks/builtin_runs.py runs and times them all.
LONG_DEFAULT_RUNS = ("captioning", "translation")


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("spec", [
    pytest.param(s, id=n, marks=[pytest.mark.long] if n in LONG_DEFAULT_RUNS else [])
    for n, s in sorted(SPECS.items())])
def test_the_defaults_reach_their_target_on_built_in_data(spec, tmp_path):
    result = cli("run", spec.name, "--output", tmp_path / "run",
                 "--set", f"export.dir={tmp_path / 'exports'}")
    assert result.exit_code == 0, result.output
    test = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    what, reached = spec.target
    assert reached(test), f"{spec.name}: expected {what}; test metrics: {test}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_preprocessor_gives_the_same_ids_eagerly_in_tf_data_in_a_model_and_reloaded(
        name, tmp_path):
    """The adapted preprocessor of each recipe (built-in data, a few test examples) called
    eagerly, mapped over a tf.data pipeline, inside a Keras model and after a serialization
    round trip gives the same outputs."""
    import keras
    import numpy as np
    import tensorflow as tf
    from samples import tiny_task

    task = tiny_task(name, tmp_path / "exports", count=8)
    task.build_datasets()
    p = task.preprocessor
    signature = p.input_signature()
    raw = {k: tf.constant(np.asarray(v))
           for k, v in task.reader.raw_inputs(task.splits["test"]).items()}

    def plain(outputs):
        return [np.asarray(t) for t in keras.tree.flatten(outputs)]

    eager = plain(p(raw))
    mapped = plain(next(iter(tf.data.Dataset.from_tensor_slices(raw).batch(len(
        task.splits["test"])).map(p))))
    inputs = {k: keras.Input(s.shape[1:], dtype=s.dtype.name, name=k)
              for k, s in signature.items()}
    in_model = plain(keras.Model(inputs, p(inputs))(raw))
    copy = keras.layers.deserialize(keras.layers.serialize(p))
    reloaded = plain(copy(raw))
    assert copy.get_config() == p.get_config()
    for other in (mapped, in_model, reloaded):
        assert len(other) == len(eager)
        for a, b in zip(eager, other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if s.round_trip))
def test_the_preprocessor_detokenizes_what_it_tokenized(name, tmp_path):
    """Targets of the test split tokenized to ids and detokenized give the targets back, as
    the tokenizer normalises them (lowercased where the recipe lowercases)."""
    from samples import tiny_task

    task = tiny_task(name, tmp_path / "exports", count=8)
    task.build_datasets()
    ids, lengths, expected = SPECS[name].round_trip(task.preprocessor, task.splits["test"])
    texts = [t.decode("utf-8") for t in task.preprocessor.detokenize(ids, lengths).numpy()]
    assert texts == expected and all(texts)

