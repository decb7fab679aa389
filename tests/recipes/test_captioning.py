"""captioning end to end: Flickr8k/COCO layouts -> run -> BLEU -> image-bytes export -> predict,
and its bad inputs."""

import itertools
import json

import numpy as np
import pytest
from helpers import (
    assert_clean_failure,
    cli,
    run_expecting_failure,
    run_without_seqtasks,
    set_args,
    tiny,
    write,
)

from seqtasks.recipes.captioning import builtin as builtin

TINY = ["model.units=16", "model.embedding_dim=8", "model.hidden_units=16",
        "data.image_size=32", "data.min_count=1", "train.batch_size=16", "decode.max_length=12"]


def tiny_captioning(*overrides, epochs=2):
    return tiny(*TINY, *overrides, epochs=epochs)


def encode(image, fmt):
    import tensorflow as tf

    return (tf.io.encode_png(image) if fmt == "png" else tf.io.encode_jpeg(image, quality=95)
            ).numpy()


def write_flickr(root, examples, name="captions.txt", first=0):
    """The Flickr8k layout: Images/ (PNG and JPEG) + captions.txt; returns the image names."""
    (root / "Images").mkdir(parents=True, exist_ok=True)
    names, rows = [], ["image,caption"]
    for i, (image, captions) in enumerate(examples, first):
        fmt = "png" if i % 2 else "jpeg"
        image_name = f"img{i}.{'png' if fmt == 'png' else 'jpg'}"
        (root / "Images" / image_name).write_bytes(encode(image, fmt))
        names.append(image_name)
        rows += [f"{image_name},{caption}" for caption in captions]
    with open(root / name, "a", encoding="utf-8") as f:
        f.write("\n".join(rows if first == 0 else rows[1:]) + "\n")
    return names


@pytest.fixture(scope="module")
def flickr(tmp_path_factory):
    root = tmp_path_factory.mktemp("flickr")
    train = write_flickr(root, builtin.generate(160, seed=1, size=32))
    test = write_flickr(root, builtin.generate(24, seed=2, size=32), first=160)
    (root / "train.txt").write_text("\n".join(train) + "\n")
    (root / "test.txt").write_text("\n".join(test) + "\n")
    return root


def flickr_overrides(root):
    return [f"data.train={root / 'captions.txt'}", f"data.train_images={root / 'train.txt'}",
            f"data.test={root / 'captions.txt'}", f"data.test_images={root / 'test.txt'}"]


@pytest.fixture(scope="module")
def finished_run(flickr, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    overrides = tiny_captioning(*flickr_overrides(flickr), f"export.dir={root / 'exports'}",
                                "train.learning_rate=0.01", epochs=6)
    result = cli("run", "captioning", *set_args(overrides), "--output", root / "run")
    assert result.exit_code == 0, result.output
    assert "caption:" in result.output and "nearest:" in result.output
    return root


def test_run_writes_bleu_1_to_4_beside_the_nearest_caption_baseline(finished_run):
    metrics = json.loads((finished_run / "run" / "metrics.json").read_text())
    test = metrics["test"]
    for n in range(1, 5):
        assert 0.0 <= test[f"bleu_{n}"] <= 100.0 and 0.0 <= test[f"nearest_bleu_{n}"] <= 100.0
    assert test["images"] == 24
    assert metrics["data"]["images"]["test"] == 24
    assert metrics["data"]["images"]["train"] + metrics["data"]["images"]["validation"] == 160
    assert (finished_run / "exports" / "captioning" / "1" / "saved_model.pb").exists()


def test_export_runs_without_seqtasks_and_matches_in_memory_decoding(finished_run, flickr):
    """serving_default captions image bytes as the exported .keras model does; the features
    signature (for the nearest-caption baseline) gives one feature row per image."""
    import keras
    import tensorflow as tf

    version = finished_run / "exports" / "captioning" / "1"
    images = [flickr / "Images" / "img160.jpg", flickr / "Images" / "img161.png"]
    code = (
        "import json, tensorflow as tf\n"
        f"sigs = tf.saved_model.load({str(version)!r}).signatures\n"
        f"data = tf.constant([open(p, 'rb').read() for p in {[str(p) for p in images]!r}])\n"
        "out = sigs['serving_default'](image=data)\n"
        "features = sigs['features'](image=data)['features']\n"
        "print(json.dumps([[c.decode() for c in out['caption'].numpy()], features.shape.as_list(),"
        " features.dtype.name]))\n"
    )
    served, shape, dtype = json.loads(run_without_seqtasks(code).strip().splitlines()[-1])
    model = keras.models.load_model(version / "assets.extra" / "model.keras")
    in_memory = [c.decode() for c in model(tf.constant([p.read_bytes() for p in images])).numpy()]
    assert served == in_memory and all(served)
    assert shape[0] == 2 and shape[1] > 0 and dtype == "float32"


def test_signatures_keep_their_names_dtypes_and_shapes(finished_run):
    import tensorflow as tf

    signatures = tf.saved_model.load(str(finished_run / "exports" / "captioning" / "1")).signatures
    serving = signatures["serving_default"]
    assert serving.structured_input_signature[1] == {
        "image": tf.TensorSpec([None], tf.string, name="image")}
    assert {k: (v.dtype, v.shape.as_list()) for k, v in serving.structured_outputs.items()} == {
        "caption": (tf.string, [None])}
    assert list(signatures["features"].structured_input_signature[1]) == ["image"]


def test_evaluate_on_the_export_alone_reproduces_the_runs_test_metrics(finished_run, flickr,
                                                                       tmp_path):
    """The nearest-caption baseline's training features and captions travel in the export:
    seqtasks evaluate gives the run's own numbers and report with the training data gone."""
    import shutil

    export = tmp_path / "captioning" / "1"
    shutil.copytree(finished_run / "exports" / "captioning" / "1", export)
    config = export / "assets.extra" / "config.toml"
    train = str(flickr / "captions.txt")
    config.write_text(config.read_text().replace(f'train = "{train}"',
                                                 f'train = "{tmp_path / "gone.txt"}"', 1))
    assert str(tmp_path / "gone.txt") in config.read_text()
    assert (export / "assets.extra" / "nearest_features.npy").exists()
    result = cli("evaluate", export, "--data", flickr / "captions.txt",
                 "--output", tmp_path / "eval")
    assert result.exit_code == 0, result.output
    assert "nearest:" in result.output and "caption:" in result.output
    run = json.loads((finished_run / "run" / "metrics.json").read_text())["test"]
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())["test"]
    assert evaluated == run


def test_predict_prints_one_caption_per_image(finished_run, flickr):
    version = finished_run / "exports" / "captioning" / "1"
    images = [flickr / "Images" / f"img{i}.{'png' if i % 2 else 'jpg'}" for i in (160, 161, 162)]
    result = cli("predict", version, *images)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3 and all(lines)


def test_predict_a_captions_file_to_jsonl(finished_run, flickr, tmp_path):
    """--input reads a captions file's images one at a time: one JSON line per image."""
    out = tmp_path / "captions.jsonl"
    result = cli("predict", finished_run / "exports" / "captioning", "--input",
                 flickr / "captions.txt", "--output", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 184 and all(row["caption"] for row in rows)
    assert rows[0]["where"].endswith("captions.txt:2")  # the first caption line of img0.jpg


def test_predict_rejects_a_non_image_file(finished_run, tmp_path):
    text = write(tmp_path / "notes.jpg", "not an image\n")
    result = cli("predict", finished_run / "exports" / "captioning", text)
    assert_clean_failure(result, "notes.jpg", "not a JPEG or PNG image")
    result = cli("predict", finished_run / "exports" / "captioning", tmp_path / "missing.png")
    assert_clean_failure(result, "missing.png", "no such file")


def test_nearest_caption_of_a_training_image_is_its_own(finished_run, flickr):
    """The baseline's neighbour search, checked where the answer is known: a training image's
    nearest training image is itself (cosine 1), so its caption is one of its own."""
    import tensorflow as tf

    import seqtasks

    recipe = seqtasks.get_recipe("captioning")
    task = recipe(recipe.default_config(tiny_captioning(*flickr_overrides(flickr))))
    task.build_datasets()
    from seqtasks.export import load_arrays, read_metadata

    export = finished_run / "exports" / "captioning" / "1"
    signatures = tf.saved_model.load(str(export)).signatures
    baseline = task.nearest_captions(signatures, list(task.splits["train"]),
                                     load_arrays(export, read_metadata(export)))
    own = [e.target for e in task.splits["train"]]
    assert sum(b in refs for b, refs in zip(baseline, own)) >= 0.95 * len(own)


def test_decoded_images_cached_on_disk_are_those_kept_in_memory(flickr, tmp_path):
    """data.cache = "disk" keeps the decoded training images in files (auto: memory for small
    sets); two epochs read the same batches as the in-memory cache."""
    import seqtasks

    recipe = seqtasks.get_recipe("captioning")
    epochs = {}
    for cache in ("auto", "disk"):
        task = recipe(recipe.default_config(tiny_captioning(*flickr_overrides(flickr),
                                                            f"data.cache={cache}")))
        task.cache_dir = tmp_path / cache
        train = task.build_datasets()["train"]
        assert task.cache_mode("train") == ("memory" if cache == "auto" else "disk")
        epochs[cache] = [[np.concatenate([np.ravel(a) for a in tf_flat(batch)])
                          for batch in train] for _ in range(2)]
    assert list((tmp_path / "disk").glob("train*"))
    assert not (tmp_path / "auto").exists()
    for memory, disk in zip(epochs["auto"], epochs["disk"]):
        assert len(memory) == len(disk) > 1
        for a, b in zip(memory, disk):
            np.testing.assert_array_equal(a, b)


def tf_flat(batch):
    import tensorflow as tf

    return [t.numpy() for t in tf.nest.flatten(batch)]


def test_padding_never_changes_a_caption_probability(flickr):
    """An image's caption probabilities are the same alone and batched with an image that has
    more and longer captions (padding in both the caption and the step axes)."""
    import tensorflow as tf

    import seqtasks

    recipe = seqtasks.get_recipe("captioning")
    task = recipe(recipe.default_config(tiny_captioning(*flickr_overrides(flickr))))
    task.build_datasets()
    model = task.build_model()
    raw = task.reader.raw_inputs(list(itertools.islice(task.splits["train"], 2)))["image"]
    images = task.preprocessor({"image": tf.constant(raw[:2])}).numpy()
    short = np.array([[[2, 5, 6, 3]]])
    alone = model.predict_on_batch([images[:1], short])
    padded = np.zeros((2, 3, 9), np.int32)
    padded[0, 0, :4] = short[0, 0]
    padded[1] = [[2, 5, 6, 7, 8, 9, 5, 6, 3], [2, 7, 3, 0, 0, 0, 0, 0, 0],
                 [2, 8, 8, 3, 0, 0, 0, 0, 0]]
    batched = model.predict_on_batch([images, padded])
    np.testing.assert_allclose(batched[0, 0, :4], alone[0, 0], atol=1e-5)
    assert np.allclose(batched.sum(-1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_coco_layout_and_its_default_image_folder(tmp_path):
    examples = builtin.generate(40, seed=3, size=32)
    (tmp_path / "annotations").mkdir()
    (tmp_path / "train2017").mkdir()
    images, annotations = [], []
    for i, (image, captions) in enumerate(examples):
        name = f"{i:012d}.jpg"
        (tmp_path / "train2017" / name).write_bytes(encode(image, "jpeg"))
        images.append({"id": 1000 + i, "file_name": name})
        annotations += [{"id": len(annotations), "image_id": 1000 + i, "caption": c}
                        for c in captions]
    path = tmp_path / "annotations" / "captions_train2017.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    import seqtasks

    result = seqtasks.run("captioning", tiny_captioning(
        f"data.train={path}", f"export.dir={tmp_path / 'x'}", "decode.strategy=greedy",
        epochs=1), output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    data = result.metrics["data"]
    assert sum(data["images"].values()) == 40
    assert data["captions"]["train"] + data["captions"]["validation"] + \
        data["captions"]["test"] == len(annotations)


def test_flickr8k_token_file_with_split_lists(flickr, tmp_path):
    lines = []
    for row in (flickr / "captions.txt").read_text().splitlines()[1:]:
        image, caption = row.split(",", 1)
        lines.append(f"{image}#{len([x for x in lines if x.startswith(image + '#')])}\t{caption}")
    token = tmp_path / "Flickr8k.token.txt"
    token.write_text("\n".join(lines) + "\n")
    import seqtasks

    recipe = seqtasks.get_recipe("captioning")
    task = recipe(recipe.default_config(tiny_captioning(
        f"data.train={token}", f"data.train_images={flickr / 'train.txt'}",
        f"data.image_dir={flickr / 'Images'}")))
    task.build_datasets()
    assert sum(len(examples) for examples in task.splits.values()) == 160


@pytest.mark.slow
def test_tfds_coco_captions_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import tensorflow as tf

    import seqtasks

    def as_dataset(builder, *args, **kwargs):
        # What coco_captions yields with decoders={"image": SkipDecoding()}: encoded image
        # bytes and a Sequence of captions (the default mock's "objects" lengths disagree).
        assert builder.name == "coco_captions"
        examples = builtin.generate(12, seed=4, size=32)

        def generate():
            for i, (image, captions) in enumerate(examples):
                yield {"image": encode(image, "jpeg"), "image/id": i,
                       "captions": {"id": list(range(len(captions))),
                                    "text": [c.encode() for c in captions]}}

        return tf.data.Dataset.from_generator(generate, output_signature={
            "image": tf.TensorSpec([], tf.string), "image/id": tf.TensorSpec([], tf.int64),
            "captions": {"id": tf.TensorSpec([None], tf.int64),
                         "text": tf.TensorSpec([None], tf.string)}})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        result = seqtasks.run("captioning", tiny_captioning(
            "data.train=tfds:coco_captions:train", "data.test=tfds:coco_captions:test",
            f"export.dir={tmp_path / 'x'}", "decode.strategy=greedy", epochs=1),
            output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    assert result.metrics["data"]["images"]["test"] == 12
    # the reference: sacreBLEU-1 of the export's captions of the mock's images (every split
    # is the same 12) against their captions
    from sacrebleu.metrics import BLEU

    examples = builtin.generate(12, seed=4, size=32)
    out = tf.saved_model.load(str(result.export_dir)).signatures["serving_default"](
        image=tf.constant([encode(image, "jpeg") for image, _ in examples]))
    hypotheses = [c.decode() for c in out["caption"].numpy()]
    references = [caps for _, caps in examples]
    streams = [[refs[i] if i < len(refs) else None for refs in references]
               for i in range(max(map(len, references)))]
    bleu_1 = BLEU(lowercase=True, max_ngram_order=1, force=True).corpus_score(
        hypotheses, streams).score
    assert bleu_1 > 0 and result.metrics["test"]["bleu_1"] == pytest.approx(bleu_1, abs=1e-3)


@pytest.mark.slow
def test_frozen_backbone_with_a_local_weights_file(flickr, tmp_path):
    """A keras.applications backbone, its weights from a file; model.train_encoder=false keeps
    them unchanged through training."""
    import keras

    import seqtasks
    from seqtasks.layers import Captioner
    from seqtasks.layers.images import IMAGE_ENCODERS

    backbone = IMAGE_ENCODERS["mobilenet_v3_small"](32, None)
    weights = tmp_path / "backbone.weights.h5"
    backbone.save_weights(weights)
    result = seqtasks.run("captioning", tiny_captioning(
        *flickr_overrides(flickr), "model.encoder=mobilenet_v3_small",
        f"model.encoder_weights={weights}", "model.train_encoder=false",
        f"export.dir={tmp_path / 'x'}", "decode.strategy=greedy", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    captioner = next(layer for layer in model.layers if isinstance(layer, Captioner))
    trained = captioner.image_encoder.get_weights()
    for before, after in zip(backbone.get_weights(), trained):
        np.testing.assert_array_equal(before, after)
    assert result.export_dir.exists()


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def run_bad(tmp_path, *overrides):
    return run_expecting_failure("captioning", tmp_path, tiny_captioning(*overrides))


def test_caption_naming_a_missing_image(flickr, tmp_path):
    captions = write(tmp_path / "captions.txt",
                     "image,caption\nimg0.jpg,a red circle\nghost.jpg,a blue square\n")
    assert_clean_failure(run_bad(tmp_path, f"data.train={captions}",
                                 f"data.image_dir={flickr / 'Images'}"),
                         "captions.txt:3", "ghost.jpg", "not found")


def corrupt_layout(flickr, tmp_path):
    images = tmp_path / "Images"
    images.mkdir()
    for name in ("img0.jpg", "img1.png", "img2.jpg", "img3.png"):
        (images / name).write_bytes((flickr / "Images" / name).read_bytes())
    (images / "broken.jpg").write_bytes((flickr / "Images" / "img0.jpg").read_bytes()[:60])
    (images / "text.png").write_text("hello\n")
    rows = ["image,caption"] + [f"{n},a red circle" for n in
                                ("img0.jpg", "broken.jpg", "img1.png", "img2.jpg", "text.png",
                                 "img3.png")]
    return write(tmp_path / "captions.txt", "\n".join(rows) + "\n")


def test_corrupt_image_is_named(flickr, tmp_path):
    captions = corrupt_layout(flickr, tmp_path)
    result = run_bad(tmp_path, f"data.train={captions}", "data.validation_fraction=0.01")
    assert_clean_failure(result, "not a readable JPEG or PNG image", "and 1 more",
                         'data.corrupt_images = "skip"')
    message = result.output.strip().splitlines()[-1]
    assert "captions.txt:3: " in message and "broken.jpg" in message or \
        "captions.txt:6: " in message and "text.png" in message, message


def test_corrupt_images_skipped_and_counted(flickr, tmp_path):
    import seqtasks

    captions = corrupt_layout(flickr, tmp_path)
    recipe = seqtasks.get_recipe("captioning")
    task = recipe(recipe.default_config(tiny_captioning(
        f"data.train={captions}", f"data.test={captions}", "data.validation_fraction=0.25",
        "data.corrupt_images=skip")))
    task.build_datasets()
    skipped = task.summary["skipped_corrupt_images"]
    assert skipped["count"] == 4 and skipped["test"] == 2
    assert any(name.endswith("broken.jpg") for name in skipped["first"])
    assert len(task.splits["test"]) == 4
    assert task.summary["images"]["test"] == 4


def test_training_stream_and_a_resumed_data_state_skip_without_decoding_again(
        flickr, tmp_path, monkeypatch):
    """The training split is a stream, not a list. A run resumed from its data state leaves
    the same corrupt images out of every split without decoding any image to find them."""
    import pickle

    import seqtasks
    from seqtasks.data.stream import Stream
    from seqtasks.recipes.captioning import data as captions_module

    captions = corrupt_layout(flickr, tmp_path)
    recipe = seqtasks.get_recipe("captioning")
    config = recipe.default_config(tiny_captioning(
        f"data.train={captions}", f"data.validation={captions}", f"data.test={captions}",
        "data.corrupt_images=skip", "data.cache=none", "train.batch_size=2"))
    task = recipe(config)
    task.build_datasets()
    assert isinstance(task.splits["train"], Stream) and len(task.splits["train"]) == 4
    state = pickle.loads(pickle.dumps(task.data_state()))

    def no_decoding(*args):
        raise AssertionError("an image was decoded to check it again")

    monkeypatch.setattr(captions_module, "_decodable", no_decoding)
    resumed = recipe(config)
    datasets = resumed.build_datasets(state)
    assert resumed.summary == task.summary
    assert resumed.summary["skipped_corrupt_images"]["count"] == 6
    assert sum(int(batch[0][0].shape[0]) for batch in datasets["train"]) == 4
    assert [len(resumed.splits[s]) for s in ("validation", "test")] == [4, 4]


def test_preprocessor_owns_the_special_ids_and_round_trips():
    """Targets are framed by the decoder's start and end ids, unknown words get the unknown id,
    and get_config() carries the vocabulary."""
    import keras

    from seqtasks.layers.text_decoder import END_ID, START_ID
    from seqtasks.recipes.base import Example
    from seqtasks.recipes.captioning.preprocessor import CaptioningPreprocessor

    examples = [Example(b"", ["A red circle.", "a red square"], "x"),
                Example(b"", ["a blue circle"], "y")]
    p = CaptioningPreprocessor(min_count=1, max_length=3)
    p.adapt(examples)
    assert p.left_out == 1 and "." not in p.vocabulary
    copy = keras.layers.deserialize(keras.layers.serialize(p))
    assert copy.vocabulary == p.vocabulary and copy.vocabulary_size == p.vocabulary_size
    targets = copy.raw_targets([Example(b"", ["a green circle"], "z")]).to_list()
    ids = targets[0][0]
    assert ids[0] == START_ID and ids[-1] == END_ID and ids[2] == 1
    assert len(copy.training_targets(examples).to_list()[0]) == 1
    assert len(copy.raw_targets(examples).to_list()[0]) == 2


def test_augment_shifts_and_jitters_but_never_mirrors():
    """A white vertical bar at column 40 of a 64-px image whose left half is dark and right half
    bright: after augmentation the bar lies within 64/8 = 8 columns of where it was, the dark
    side stays on the left (no flip: captions say left and right), shape and dtype survive,
    and two draws differ."""
    import tensorflow as tf

    from seqtasks.layers.images import augment_image as augment

    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 32:] = 150
    image[:, 40] = 255
    tf.random.set_seed(0)
    outs = [augment(tf.constant(image)).numpy() for _ in range(20)]
    for out in outs:
        assert out.shape == image.shape and out.dtype == np.uint8
        bar = int(np.argmax(out[32, :, 0].astype(int)))
        assert abs(bar - 40) <= 8, bar
        assert out[:, :16].mean() < out[:, 48:].mean()
    assert len({out.tobytes() for out in outs}) > 1


def test_backbone_weights_that_cannot_be_loaded(flickr, tmp_path):
    """Fails in building the model, after the data was read: one line, and no run directory
    (nor export) left behind."""
    weights = write(tmp_path / "weights.h5", "not an HDF5 file\n")
    result = run_expecting_failure("captioning", tmp_path, tiny_captioning(
        *flickr_overrides(flickr), "model.encoder=mobilenet_v3_small", "data.image_size=32",
        f"model.encoder_weights={weights}"))
    assert_clean_failure(result, "model.encoder_weights", "weights.h5",
                         "cannot load the weights of mobilenet_v3_small")
