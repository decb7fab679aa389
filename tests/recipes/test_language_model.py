"""language_model end to end: text -> stateful training -> perplexity -> export with generation
-> seqtasks generate, and its bad inputs."""

import json
import math
import pickle

import numpy as np
import pytest
from helpers import (
    assert_clean_failure,
    cli,
    run_without_seqtasks,
    set_args,
    tiny,
    write,
)

from seqtasks.recipes.translation import builtin as translation

TINY = ["train.bptt=20", "train.batch_size=4", "model.units=16"]


def tiny_lm(*overrides, epochs=2):
    return tiny(*TINY, *overrides, epochs=epochs)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / "text.txt"
    path.write_text("\n".join(s for s, _ in translation.generate(400, seed=5)) + "\n")
    return path


@pytest.fixture(scope="module")
def finished_run(text_file, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    overrides = tiny_lm(f"data.train={text_file}", f"export.dir={root / 'exports'}")
    result = cli("run", "language_model", *set_args(overrides), "--output", root / "run")
    assert result.exit_code == 0, result.output
    assert "sample:" in result.output
    return root


def stateless_copy(task, model):
    """The reference: ``model``'s weights in a stateless network reading whole sequences;
    returns it and its ``(preprocessor, embedding, rnns, head)`` (rnns return their states)."""
    from seqtasks.generation import parts

    stateless = task.recurrent_network(stateful=False)
    stateless.set_weights(model.get_weights())
    return stateless, parts(stateless)


def tiny_task(text_file, *overrides, seed=None, scale=0.3):
    """A tiny task on ``text_file``, its datasets and its model (with random normal weights of
    ``scale`` when ``seed`` is given)."""
    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    task = recipe(recipe.default_config(tiny_lm(f"data.train={text_file}", *overrides)))
    datasets = task.build_datasets()
    model = task.build_model()
    if seed is not None:
        rng = np.random.default_rng(seed)
        model.set_weights([rng.normal(0, scale, w.shape).astype("float32")
                           for w in model.get_weights()])
    return task, datasets, model


def test_run_reports_perplexity_and_bits_per_char(finished_run):
    test = json.loads((finished_run / "run" / "metrics.json").read_text())["test"]
    assert test["perplexity"] == pytest.approx(math.exp(test["loss"]), rel=1e-4)
    assert test["bits_per_char"] == pytest.approx(test["loss"] / math.log(2), rel=1e-4)
    assert 1.0 < test["perplexity"] < 30


def test_state_carried_across_windows_equals_one_pass_over_the_stream(text_file):
    """Stateful windows (reset at the start) score the test stream exactly as a stateless copy
    of the model reading each of the batch_size streams in one piece."""
    from seqtasks.recipes.language_model.streams import reset_states, tbptt_windows

    task, datasets, model = tiny_task(text_file)
    reset_states(model)
    stateful = model.evaluate(datasets["test"], return_dict=True, verbose=0)["loss"]

    stateless, _ = stateless_copy(task, model)
    inputs, targets = tbptt_windows(task.preprocessor.stream_ids(task.splits["test"]), 4, 20)
    rows_in = np.concatenate(list(inputs), axis=1)  # [4, windows * 20]: each stream whole
    rows_out = np.concatenate(list(targets), axis=1)
    probs = stateless.predict(rows_in, verbose=0)
    picked = np.take_along_axis(probs, rows_out[..., None], axis=-1)[..., 0]
    assert stateful == pytest.approx(float(-np.log(picked).mean()), rel=1e-4)


def test_test_text_is_scored_whole_as_one_stream(text_file):
    """test.loss is the exact mean negative log-likelihood of every test token after the first,
    the state carried through the whole text by the score signature, whatever the chunking
    (numpy reference on one stateless pass)."""
    task, datasets, model = tiny_task(text_file, seed=4)
    ids = task.preprocessor.stream_ids(task.splits["test"])
    windows = int(datasets["test"].cardinality())
    assert len(ids) - 1 > windows * 4 * 20  # the windows drop a tail; this does not

    stateless, _ = stateless_copy(task, model)
    probs = stateless.predict(ids[None, :-1], verbose=0)[0].astype(np.float64)
    picked = probs[np.arange(len(ids) - 1), ids[1:]]
    reference = -np.log(picked).mean()
    accuracy = (probs.argmax(axis=-1) == ids[1:]).mean()

    for chunk in (7, 1024, 4096):
        task.chunk = chunk
        scored = task.evaluate(model)
        metrics = scored.metrics
        assert metrics["loss"] == pytest.approx(reference, rel=1e-5)
        assert metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)
        assert metrics["bits_per_char"] == pytest.approx(reference / math.log(2), rel=1e-5)
    assert scored.samples[0]["sample"].startswith(task.splits["test"][0].input[0])


def test_score_signature_carries_the_state_between_chunks(text_file):
    """Two chunks, the second started from the first's state, equal one chunk; an empty state
    is the zero state."""
    import tensorflow as tf

    task, _, model = tiny_task(text_file, "model.cell=lstm", "model.layers=2", seed=5)
    score = task.endpoints(task.inference_model(model))["score"]
    tokens = list("".join(e.input for e in task.splits["test"]))[:41]
    whole = score(tokens=tf.constant([tokens]), state=tf.zeros([1, 0]))
    assert whole["state"].shape == (1, 2 * 2 * 16)  # two LSTM layers: h and c
    first = score(tokens=tf.constant([tokens[:21]]), state=tf.zeros([1, 64]))
    second = score(tokens=tf.constant([tokens[20:]]), state=first["state"])
    total = float(first["log_likelihood"][0] + second["log_likelihood"][0])
    assert total == pytest.approx(float(whole["log_likelihood"][0]), rel=1e-6)
    assert int(first["correct"][0] + second["correct"][0]) == int(whole["correct"][0])
    np.testing.assert_allclose(second["state"], whole["state"], atol=1e-5)


def test_diagnostic_gradients_at_the_embedding_match_finite_differences(text_file):
    """seqtasks diagnose's gradient for language_model (taken at the embedding output, the
    stateful layers started from zero) against central differences of a stateless copy."""
    import keras

    from seqtasks.diagnose import step_gradient_norms
    from seqtasks.training import per_example_loss

    task, datasets, model = tiny_task(text_file, "model.embedding_dim=6", seed=3,
                                         scale=0.4)
    forward, inputs, targets = task.diagnostic(model, datasets)
    norms = step_gradient_norms(forward, inputs, targets, per_example_loss(model.loss))
    assert norms.shape == (20,)
    for rnn in (layer for layer in model.layers if isinstance(layer, keras.layers.RNN)):
        assert not np.any(rnn.states[0].numpy())  # no state left behind

    _, (_, embedding, rnns, head) = stateless_copy(task, model)
    x = np.asarray(embedding(next(iter(datasets["train"]))[0]), np.float64)
    np.testing.assert_allclose(x, inputs, atol=1e-6)
    batch, _, features = x.shape
    labels = np.asarray(targets)

    def losses(rows):
        h = rows.astype("float32")
        for rnn in rnns:
            h = rnn(h)[0]
        p = np.asarray(head(h[:, -1]), np.float64)
        return -np.log(p[np.arange(len(rows)), np.tile(labels, len(rows) // batch)])

    eps = 1e-2
    for t in (11, 16, 19):
        rows = []
        for sign in (1, -1):
            for j in range(features):
                moved = x.copy()
                moved[:, t, j] += sign * eps
                rows.append(moved)
        values = losses(np.concatenate(rows)).reshape(2, features, batch)
        grad = (values[0] - values[1]) / (2 * eps)  # d loss_b / d x[b, t, j]
        reference = np.linalg.norm(grad, axis=0).mean()
        assert norms[t] == pytest.approx(reference, rel=3e-2, abs=1e-6), t


def test_diagnose_a_language_model_run(finished_run, tmp_path):
    result = cli("diagnose", finished_run / "run", "--cells", "elman", "--output", tmp_path)
    assert result.exit_code == 0, result.output
    profiles = json.loads((tmp_path / "diagnose.json").read_text())["profiles"]
    assert set(profiles) == {"elman (initialised)", "elman (trained run)"}
    assert all(len(p) == 20 for p in profiles.values())
    assert "gradient at 20 steps back" in result.output


def test_export_generates_without_seqtasks_like_in_memory(finished_run):
    """The SavedModel's signatures, loaded with TensorFlow alone, generate what the exported
    .keras inference model generates in memory."""
    import keras
    import tensorflow as tf

    from seqtasks.generation import generator

    version = finished_run / "exports" / "language_model" / "1"
    code = (
        "import json, tensorflow as tf\n"
        f"m = tf.saved_model.load({str(version)!r})\n"
        "a = m.signatures['serving_default'](prompt=tf.constant(['the d', '']))['text']\n"
        "b = m.signatures['generate'](prompt=tf.constant(['the d']), length=tf.constant(30),\n"
        "    temperature=tf.constant(0.7), top_k=tf.constant(5), seed=tf.constant(11))['text']\n"
        "print(json.dumps([t.decode() for t in a.numpy()] + [b.numpy()[0].decode()]))\n"
    )
    served = json.loads(run_without_seqtasks(code).strip().splitlines()[-1])
    model = keras.models.load_model(version / "assets.extra" / "model.keras")
    expected = generator(model)(tf.constant(["the d"]), 30, 0.7, 5, 11).numpy()[0].decode()
    assert served[2] == expected and served[2].startswith("the d")
    assert len(served[2]) == len("the d") + 30
    assert len(served[0]) == len("the d") + 200 and len(served[1]) == 200


def test_generate_command(finished_run):
    export = finished_run / "exports" / "language_model"
    result = cli("generate", export, "--prompt", "the ", "--length", "40", "--temperature",
                 "0.8", "--top-k", "10", "--seed", "3")
    assert result.exit_code == 0, result.output
    text = result.output.rstrip("\n")
    assert text.startswith("the ") and len(text) == 44
    again = cli("generate", export, "--prompt", "the ", "--length", "40", "--temperature",
                "0.8", "--top-k", "10", "--seed", "3")
    assert again.output == result.output
    greedy = cli("generate", export, "--prompt", "the ", "--length", "40", "--temperature", "0")
    assert greedy.exit_code == 0 and len(greedy.output.rstrip("\n")) == 44


def test_word_level_and_evaluate_of_the_export(text_file, tmp_path):
    """Word tokens, a given test file (validation carved from the end of train), and
    ``seqtasks evaluate`` of the export on that file giving the run's own test metrics."""
    import seqtasks

    test_file = tmp_path / "test.txt"
    test_file.write_text("\n".join(s for s, _ in translation.generate(60, seed=9)) + "\n")
    result = seqtasks.run("language_model", tiny_lm(
        f"data.train={text_file}", f"data.test={test_file}", "data.level=word",
        "train.bptt=8", f"export.dir={tmp_path / 'x'}", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    assert "bits_per_char" not in result.metrics["test"]
    assert result.metrics["data"]["level"] == "word"
    out = cli("generate", result.export_dir, "--prompt", "the dog", "--length", "5")
    assert out.exit_code == 0, out.output
    assert len(out.output.split()) == 7
    scored = cli("evaluate", tmp_path / "run", "--data", test_file, "--output", tmp_path / "ev")
    assert scored.exit_code == 0, scored.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())["test"]
    assert metrics == result.metrics["test"]


def adapted_splits(recipe, overrides):
    """The splits after the adaptation pass (which cuts the held-out texts)."""
    task = recipe(recipe.default_config(overrides))
    splits = task.reader.splits()
    task.adapt(splits)
    return {split: list(examples) for split, examples in splits.items()}


def test_held_out_text_is_cut_from_the_end(text_file, tmp_path):
    """Without data.test the last test_fraction of the characters tests and the
    validation_fraction before it validates (a line is cut where the share ends); with it,
    validation is the end of train. Examples are lines, ``file:line``; a list of files is
    read in order."""
    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    text = text_file.read_text()
    splits = adapted_splits(recipe, [f"data.train={text_file}", "data.test_fraction=0.2"])
    joined = {s: "".join(e.input for e in examples) for s, examples in splits.items()}
    test_cut = int(len(text) * 0.8)
    validation_cut = int(test_cut * 0.9)
    assert joined == {"train": text[:validation_cut], "validation": text[validation_cut:test_cut],
                      "test": text[test_cut:]}
    assert splits["train"][1][:3] == (text.splitlines(keepends=True)[1], None, f"{text_file}:2")

    other = write(tmp_path / "more.txt", "the end .\n")
    splits = adapted_splits(recipe, [f"data.train=[{str(text_file)!r}, {str(other)!r}]",
                                     f"data.test={other}"])
    train = text + "the end .\n"
    cut = int(len(train) * 0.9)
    assert "".join(e.input for e in splits["validation"]) == train[cut:]
    assert "".join(e.input for e in splits["train"]) == train[:cut]
    assert splits["test"][0].where == f"{other}:1"


def test_held_out_text_is_at_most_the_limit(text_file):
    """data.held_out_limit caps each held-out text (in characters) from the end."""
    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    text = text_file.read_text()
    splits = adapted_splits(recipe, [f"data.train={text_file}", "data.held_out_limit=500"])
    joined = {s: "".join(e.input for e in examples) for s, examples in splits.items()}
    assert joined == {"train": text[:-1000], "validation": text[-1000:-500],
                      "test": text[-500:]}


def test_training_text_on_disk_trains_exactly_as_in_memory(text_file, tmp_path):
    """data.cache = "disk": the training ids go to a file under the run directory, read a
    window at a time; the run's history and test metrics are those of the in-memory ids,
    and the file is gone after training."""
    runs = {}
    for cache in ("memory", "disk"):
        out = tmp_path / cache
        result = cli("run", "language_model", *set_args(tiny_lm(
            f"data.train={text_file}", f"data.cache={cache}",
            f"export.dir={tmp_path / 'exports' / cache}")), "--output", out)
        assert result.exit_code == 0, result.output
        runs[cache] = ((out / "history.csv").read_text(),
                       json.loads((out / "metrics.json").read_text())["test"])
        assert not (out / "cache").exists()
    assert runs["disk"] == runs["memory"]


def test_predict_reads_one_prompt_per_line(finished_run, tmp_path):
    prompts = write(tmp_path / "prompts.txt", "the d\n\nhe \n")
    out = tmp_path / "out.jsonl"
    result = cli("predict", finished_run / "exports" / "language_model", "--input", prompts,
                 "--output", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["where"] for r in rows] == [f"{prompts}:{i}" for i in (1, 2, 3)]
    assert [len(r["text"]) for r in rows] == [5 + 200, 200, 3 + 200]
    assert rows[0]["text"].startswith("the d") and rows[2]["text"].startswith("he ")


@pytest.mark.slow
def test_tfds_tiny_shakespeare_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import tensorflow as tf

    import seqtasks

    texts = {split: "\n".join(s for s, _ in translation.generate(60, seed=seed))
             for split, seed in (("train", 1), ("test", 2))}

    def as_dataset(builder, split=None, **kwargs):
        return tf.data.Dataset.from_tensors({"text": tf.constant(texts[split])})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        result = seqtasks.run("language_model", tiny_lm(
            "data.train=tfds:tiny_shakespeare:train", "data.test=tfds:tiny_shakespeare:test",
            f"export.dir={tmp_path / 'x'}", epochs=1),
            output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    # the mock's test text, split into characters here and scored by the export in one call
    # from a zero state, gives the run's metrics (which carried the state across chunks)
    chars = list(texts["test"])
    score = tf.saved_model.load(str(result.export_dir)).signatures["score"]
    out = score(tokens=tf.constant([chars]), state=tf.zeros([1, 0]))
    steps = len(chars) - 1
    test = result.metrics["test"]
    assert test["accuracy"] == round(int(out["correct"][0]) / steps, 6)
    assert test["perplexity"] == pytest.approx(
        math.exp(-float(out["log_likelihood"][0]) / steps), rel=1e-4)
    vocabulary = json.loads((result.export_dir / "assets.extra" / "seqtasks.json").read_text())
    assert set(vocabulary["vocabulary"]) <= set(texts["train"])


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def test_prompt_of_unseen_characters(finished_run):
    result = cli("generate", finished_run / "exports" / "language_model", "--prompt", "Zoë")
    assert_clean_failure(result, "--prompt", "'Z'", "'ë'", "never seen in the training text")


@pytest.mark.parametrize("length", ["0", "-5"])
def test_length_must_be_positive(finished_run, length):
    result = cli("generate", finished_run / "exports" / "language_model", "--length", length)
    assert_clean_failure(result, "--length", "expected a positive number")


def test_generate_needs_a_language_model_export(tmp_path):
    result = cli("generate", tmp_path / "nowhere", "--prompt", "x")
    assert_clean_failure(result, "nowhere", "no such export directory")


def test_a_resumed_run_reuses_the_data_state_and_the_encoded_text(text_file, tmp_path):
    """What the adaptation pass learned (vocabulary, held-out texts, token marks) comes back
    from :meth:`data_state`, and the training ids from the file the first run wrote: the
    resumed run reads no training text (the file may even be gone) and gets the same data."""
    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    config = recipe.default_config(tiny_lm(f"data.train={text_file}", "data.cache=disk"))
    first = recipe(config)
    first.cache_dir = tmp_path / "cache"
    built = first.build_datasets()
    state = pickle.loads(pickle.dumps(first.data_state()))
    assert (tmp_path / "cache" / "train.ids").exists()

    hidden = text_file.rename(tmp_path / "elsewhere.txt")
    try:
        again = recipe(config)
        again.cache_dir = tmp_path / "cache"
        rebuilt = again.build_datasets(state)
    finally:
        hidden.rename(text_file)
    assert again.preprocessor.vocabulary == first.preprocessor.vocabulary
    assert again.summary == first.summary
    for split in built:
        assert [(x.numpy().tolist(), y.numpy().tolist()) for x, y in rebuilt[split]] == \
            [(x.numpy().tolist(), y.numpy().tolist()) for x, y in built[split]]
