"""The Python API a new user finds: ``help(seqtasks)`` and ``dir`` show it, ``seqtasks.load``
predicts with every recipe's export as TensorFlow alone does, and ``seqtasks.run`` leaves the
caller's random state alone."""

import random
import subprocess
import sys

import numpy as np
import pytest

import seqtasks

pytestmark = pytest.mark.xdist_group("exports")  # shares the tiny exports of test_serve.py


def test_dir_and_help_show_the_public_api_without_importing_tensorflow():
    done = subprocess.run([sys.executable, "-c", "import sys, seqtasks\n"
                           "print(sorted(n for n in dir(seqtasks) if not n.startswith('_')))\n"
                           "print('tensorflow' in sys.modules)"],
                          capture_output=True, text=True, timeout=120)
    names, tensorflow = done.stdout.splitlines()
    assert {"run", "load", "list_recipes", "get_recipe", "load_config", "layers",
            "Deployed"} <= set(eval(names))
    assert tensorflow == "False"
    text = subprocess.run([sys.executable, "-c", "import seqtasks; help(seqtasks.run); "
                           "help(seqtasks.load)"], capture_output=True, text=True,
                          timeout=120).stdout
    assert "Train, evaluate and export a recipe" in text and "predict" in text


def _inputs(recipe):
    if recipe == "captioning":
        import tensorflow as tf

        from seqtasks.recipes.captioning import builtin

        image = builtin.draw(builtin.random_scene(random.Random(3)), size=32)
        return [tf.io.encode_png(image).numpy()]
    if recipe == "forecasting":
        return [np.linspace(10.0, 20.0, 30).astype(np.float32)]
    return {"tagging": ["The cat sat ."], "language_model": ["th"]}.get(recipe, ["hello there"])


@pytest.mark.parametrize("recipe", sorted(seqtasks.list_recipes()))
def test_load_predicts_what_the_saved_model_gives(served_exports, direct_call, recipe):
    from specs import SPECS

    model = seqtasks.load(served_exports[1][recipe])
    assert model.recipe == recipe
    inputs = _inputs(recipe)
    [row] = model.predict(inputs)
    assert set(row) == SPECS[recipe].outputs
    name = model.metadata["input"]
    expected = direct_call(recipe, **{name: np.asarray(inputs)})
    for key, value in expected.items():
        value = np.asarray(value[0]).tolist()
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode() for v in value]
        np.testing.assert_equal(row[key], value)


def test_run_leaves_the_callers_random_state_alone(tmp_path):
    import tensorflow as tf
    from tensorflow.python.eager import context

    tf.random.set_seed(11)
    random.seed(7)
    np.random.seed(7)
    expected = random.random(), np.random.rand()
    random.seed(7)
    np.random.seed(7)
    seqtasks.run("forecasting", {"train.epochs": 1, "model.units": 4, "model.hidden_units": 4,
                                 "export.dir": str(tmp_path / "exports")},
                 output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    assert (random.random(), np.random.rand()) == expected
    assert context.global_seed() == 11
    tf.random.set_seed(None)
