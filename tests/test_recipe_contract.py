"""The contract every registered recipe keeps, checked the same way for all of them.

Per recipe, on its built-in data with tiny sizes: build, train one step, evaluate, export;
then the export, loaded in a process that cannot import seqtasks, must give the in-memory
signature's outputs; ``seqtasks evaluate`` of the export on the test split written to a file
must give the run's own test metrics; padding another input into the batch must not change an
input's outputs; the ``.keras`` inference model must round-trip; and the serving signature
must keep the names, dtypes and shapes the README documents (``saved_model_cli`` shows the
same; tests/test_deployed.py runs it once).
"""

import json
import pickle

import numpy as np
import pytest
from helpers import cli, run_without_seqtasks
from samples import (
    SIGNATURES,
    TINY,
    publish_tiny_export,
    shared_tiny_export,
    tiny_task,
    write_test_split,
)

import seqtasks

RECIPES = sorted(seqtasks.list_recipes())


def test_every_registered_recipe_is_covered():
    assert set(RECIPES) == set(SIGNATURES) == set(TINY)


#: The inference path every recipe shares: raw inputs -> preprocessor -> inference_network ->
#: postprocess. A recipe customises it through those named parts only.
SHARED_PATH = ("inference_model", "endpoints", "deployable", "evaluate", "run_signature")


@pytest.mark.parametrize("name", RECIPES)
def test_no_recipe_overrides_the_inference_path(name):
    from seqtasks.recipes.base import Recipe

    recipe = seqtasks.get_recipe(name)
    assert [m for m in SHARED_PATH if getattr(recipe, m) is not getattr(Recipe, m)] == []
    assert recipe.postprocess is not Recipe.postprocess  # each names its outputs


def _overrides(cls, base):
    """``{name: function}`` that ``cls`` (or a mixin it has before ``base``) defines over a
    public method of ``base``."""
    import inspect

    found = {}
    for klass in cls.__mro__[:cls.__mro__.index(base)]:
        for name, value in vars(klass).items():
            if (not name.startswith("_") and inspect.isfunction(getattr(base, name, None))
                    and name not in found):
                found[name] = value
    return found


@pytest.mark.parametrize("name", RECIPES)
def test_recipes_and_readers_override_only_hooks_and_keep_their_signatures(name):
    import inspect

    from seqtasks.recipes.base import Recipe
    from seqtasks.recipes.reader import Reader

    assert len(Recipe.hooks) <= 15
    for base, cls in ((Recipe, seqtasks.get_recipe(name)),
                      (Reader, seqtasks.get_recipe(name).reader_cls)):
        overrides = _overrides(cls, base)
        assert sorted(set(overrides) - set(base.hooks)) == [], f"{cls.__name__} overrides them"
        for method, function in overrides.items():
            expected = list(inspect.signature(getattr(base, method)).parameters)
            assert list(inspect.signature(function).parameters) == expected, method
    for base in (Recipe, Reader):  # each hook says when it runs
        assert [h for h in base.hooks if "runs" not in getattr(base, h).__doc__.lower()] == []


_TRAINED = {}  # one trained model per recipe, however pytest or xdist orders the tests


@pytest.fixture(scope="module", autouse=True)
def _release_trained():
    """Drops the trained models when this module's tests are done on a worker, so the worker
    does not carry them (and walk them in every full garbage collection) for the rest of
    the run."""
    yield
    _TRAINED.clear()


#: Configurations the contract is also checked in: ``{id: (recipe, --set items)}``.
VARIANTS = {"translation-subword": ("translation", ("data.source_tokenizer=subword",
                                                   "data.target_tokenizer=subword",
                                                   "data.subword_vocab_size=80")),
            "smart_reply-subword": ("smart_reply", ("data.tokenizer=subword",
                                                   "data.subword_vocab_size=80")),
            "captioning-subword": ("captioning", ("data.tokenizer=subword",
                                                 "data.subword_vocab_size=40")),
            "language_model-subword": ("language_model", ("data.tokenizer=subword",
                                                         "data.subword_vocab_size=60")),
            "tagging-subword": ("tagging", ("data.tokenizer=subword",
                                            "data.subword_vocab_size=60"))}
CONFIGURATIONS = [*RECIPES, *VARIANTS]


# the recipes' exports are served by tests/test_serve.py on the same worker; each variant is
# a group of its own, so the variants spread over the workers instead of lengthening that one
@pytest.fixture(scope="module", params=[
    pytest.param(key, marks=pytest.mark.xdist_group("exports" if key in RECIPES
                                                    else f"contract-{key}"))
    for key in CONFIGURATIONS],
    ids=CONFIGURATIONS)
def trained(request, tmp_path_factory):
    """A recipe trained one step on its built-in data, evaluated and exported."""
    key = request.param
    if key in VARIANTS:
        if key not in _TRAINED:
            _TRAINED[key] = _train(*VARIANTS[key], tmp_path_factory.mktemp(key))
        return _TRAINED[key]
    if key not in _TRAINED:
        with shared_tiny_export(tmp_path_factory, key) as shared:  # the serve tests use it
            _TRAINED[key] = _train(key, (), tmp_path_factory.mktemp(key))
            if not shared.exists():
                publish_tiny_export(_TRAINED[key]["version"], shared)
    return _TRAINED[key]


def _train(name, overrides, root):
    import keras

    from seqtasks import export

    task = tiny_task(name, root / "exports", overrides=overrides)
    keras.utils.set_random_seed(0)
    datasets = task.build_datasets()
    model = task.build_model()
    model.fit(datasets["train"].take(1), verbose=0, callbacks=task.callbacks())
    metrics = task.evaluate(model).metrics
    version = export.export(task, model)
    return {"name": name, "task": task, "model": model, "metrics": metrics,
            "version": version, "root": root}


def in_memory(trained, examples):
    """The in-memory serving_default's outputs on ``examples`` (NumPy)."""
    task = trained["task"]
    if "signature" not in trained:  # traced once per recipe, from the trained model itself
        trained["signature"] = task.endpoints(task.inference_model(trained["model"]))[
            "serving_default"]
    return task.run_signature(trained["signature"], examples)


def same_outputs(a, b, atol=1e-5):
    assert set(a) == set(b)
    for name in a:
        for x, y in zip(a[name], b[name]):
            x, y = np.asarray(x), np.asarray(y)
            if x.dtype.kind in "SUO":
                assert x.tolist() == y.tolist(), name
            else:
                np.testing.assert_allclose(x, y, atol=atol, err_msg=name)


def sample(trained, count=4):
    examples = trained["task"].splits["test"]
    return [examples[i] for i in np.linspace(0, len(examples) - 1, count).astype(int)]


def test_export_without_seqtasks_equals_the_in_memory_signature(trained, tmp_path):
    """Loaded by TensorFlow alone (and TF Text's ops, which the subword tokenizer needs and
    stock TF Serving links): the same outputs, and serving_default keeps the names,
    dtypes and shapes the README documents."""
    examples = sample(trained)
    raw = {k: np.asarray(v) for k, v in trained["task"].reader.raw_inputs(examples).items()}
    (tmp_path / "inputs.pkl").write_bytes(pickle.dumps(raw))
    run_without_seqtasks(
        "import pickle, tensorflow as tf, tensorflow_text\n"
        f"sig = tf.saved_model.load({str(trained['version'])!r}).signatures['serving_default']\n"
        f"raw = pickle.load(open({str(tmp_path / 'inputs.pkl')!r}, 'rb'))\n"
        "out = sig(**{k: tf.constant(v) for k, v in raw.items()})\n"
        "specs = {k: (v.dtype.name, v.shape.as_list()) for k, v in "
        "sig.structured_input_signature[1].items()}\n"
        f"pickle.dump(({{k: v.numpy() for k, v in out.items()}}, specs), "
        f"open({str(tmp_path / 'out.pkl')!r}, 'wb'))\n")
    served, specs = pickle.loads((tmp_path / "out.pkl").read_bytes())
    same_outputs({k: list(v) for k, v in served.items()}, in_memory(trained, examples))
    inputs, outputs = SIGNATURES[trained["name"]]
    assert specs == inputs and set(served) == outputs


def test_the_documented_signatures_are_the_exports(trained):
    """``Recipe.documented_signatures`` (what the API reference shows) names every signature
    of the export, its inputs and outputs and their dtypes."""
    import tensorflow as tf

    signatures = tf.saved_model.load(str(trained["version"])).signatures
    documented = seqtasks.get_recipe(trained["name"]).documented_signatures
    assert set(documented) == set(signatures)
    for name, (inputs, outputs) in documented.items():
        function = signatures[name]
        found = ({k: v.dtype.name for k, v in function.structured_input_signature[1].items()},
                 {k: v.dtype.name for k, v in function.structured_outputs.items()})
        assert found == tuple({k: text.split()[0] for k, text in side.items()}
                              for side in (inputs, outputs)), name


def test_evaluate_on_a_file_gives_the_run_test_metrics(trained, tmp_path):
    data = write_test_split(trained["name"], trained["task"], tmp_path)
    result = cli("evaluate", trained["version"], "--data", data, "--output", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    scored = json.loads((tmp_path / "ev" / "metrics.json").read_text())["test"]
    expected = trained["metrics"]
    assert set(scored) == set(expected)
    for key, value in expected.items():
        if isinstance(value, (int, float)):
            assert scored[key] == pytest.approx(value, abs=1e-4), key
    assert (tmp_path / "ev" / "config.toml").exists()


def test_padding_another_input_into_the_batch_changes_nothing(trained):
    examples = trained["task"].splits["test"]
    lengths = [len(str(e.input)) for e in examples]
    short, long = examples[int(np.argmin(lengths))], examples[int(np.argmax(lengths))]
    alone = in_memory(trained, [short])
    together = in_memory(trained, [short, long])
    for name in alone:
        x, y = np.asarray(alone[name][0]), np.asarray(together[name][0])
        if x.dtype.kind in "SUO":  # string rows may be padded with "" to the batch's longest
            assert [v for v in y.ravel().tolist() if v] == [v for v in x.ravel().tolist() if v]
        else:
            width = tuple(slice(0, n) for n in x.shape)
            np.testing.assert_allclose(x, y[width], atol=1e-5, err_msg=name)


def test_keras_file_round_trips(trained):
    import keras

    task = trained["task"]
    loaded = keras.models.load_model(trained["version"] / "assets.extra" / "model.keras")
    inference = task.inference_model(trained["model"])
    raw = task.reader.raw_inputs(sample(trained))
    feed = {k: np.asarray(v) for k, v in raw.items()}
    if len(feed) == 1:
        feed = next(iter(feed.values()))
    expected = keras.tree.flatten(keras.tree.map_structure(np.asarray, inference(feed)))
    got = keras.tree.flatten(keras.tree.map_structure(np.asarray, loaded(feed)))
    same_outputs({"outputs": expected}, {"outputs": got})


@pytest.mark.parametrize("name", RECIPES)
def test_hooks_out_of_order_fail_clearly(name):
    recipe = seqtasks.get_recipe(name)
    task = recipe(recipe.default_config(TINY[name]))
    assert task.preprocessor is None and task.splits is None and task.summary is None
    with pytest.raises(RuntimeError, match=r"build_model: .*call build_datasets\(\)"):
        task.build_model()
    with pytest.raises(RuntimeError, match=r"call build_datasets\(\)"):
        task.inference_model(None)
