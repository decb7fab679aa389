"""Caption data layouts: Flickr8k (captions.txt, Flickr8k.token.txt, split lists) and COCO,
read alone and by the captioning recipe (COCO's default image folder, TFDS coco_captions);
missing and corrupt images; the decoded-image cache and the data state of a resumed run."""
import gzip
import json
import os
import re

import numpy as np
import pytest
from helpers import assert_clean_failure, run_expecting_failure, write
from tiny_data import encode, flickr_overrides, tiny_captioning

from seqtasks.errors import DataError
from seqtasks.recipes.captioning import builtin as builtin
from seqtasks.recipes.captioning.data import Example, image_format, read_coco, read_flickr8k

JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 12
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def _images(directory, *names):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(JPEG)
    return directory


def test_flickr_csv_groups_captions_and_keeps_commas(tmp_path):
    images = _images(tmp_path / "Images", "a.jpg", "b.jpg")
    path = tmp_path / "captions.txt"
    path.write_text(
        "image,caption\n"
        "b.jpg,A dog runs , fast .\n"
        'a.jpg,"A girl, smiling ."\n'
        "\n"
        "b.jpg,  A brown dog .  \n"
    )
    assert read_flickr8k(path) == [
        Example(str(images / "b.jpg"), ["A dog runs , fast .", "A brown dog ."], f"{path}:2"),
        Example(str(images / "a.jpg"), ["A girl, smiling ."], f"{path}:3"),
    ]


def test_flickr_token_layout_gzip_and_default_image_dir(tmp_path):
    _images(tmp_path, "a.jpg", "b.jpg")
    path = tmp_path / "Flickr8k.token.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("a.jpg#0\tA cat .\na.jpg#1\tA cat sits .\nb.jpg#0\tA tree .\n")
    examples = read_flickr8k(path)
    assert [e.captions for e in examples] == [["A cat .", "A cat sits ."], ["A tree ."]]
    assert examples[0].image == str(tmp_path / "a.jpg")
    assert examples[1].where == f"{path}:3"
    assert os.path.isabs(examples[0].image)


def test_flickr_split_list_order_and_missing_entries(tmp_path):
    _images(tmp_path / "pics", "a.jpg", "b.jpg")
    path = tmp_path / "Flickr8k.token.txt"
    path.write_text("a.jpg#0\tA cat .\nb.jpg#0\tA tree .\nc.jpg#0\tNot downloaded .\n")
    split = tmp_path / "Flickr_8k.trainImages.txt"
    split.write_text("b.jpg\n\na.jpg\n")
    examples = read_flickr8k(path, image_dir=tmp_path / "pics", split_list=split)
    assert [e.captions for e in examples] == [["A tree ."], ["A cat ."]]
    split.write_text("a.jpg\nz.jpg\n")
    message = re.escape(f"{split}:2: image 'z.jpg' has no captions")
    with pytest.raises(DataError, match=message):
        read_flickr8k(path, image_dir=tmp_path / "pics", split_list=split)


def test_flickr_missing_image(tmp_path):
    _images(tmp_path / "Images", "a.jpg")
    path = tmp_path / "captions.txt"
    path.write_text("image,caption\na.jpg,A cat .\nmissing.jpg,A dog .\n")
    with pytest.raises(DataError, match=r"captions.txt:3: image 'missing.jpg' not found in "):
        read_flickr8k(path)


@pytest.mark.parametrize("content, message", [
    ("\n\n", r"captions.txt: no captions found"),
    ("image,caption\n", r"captions.txt: no captions found"),
    ("image,caption\na.jpg,ok\na.jpg,   \n", r"captions.txt:3: empty caption for image 'a.jpg'"),
    ("image,caption\na.jpg\n", r"captions.txt:2: expected 'image,caption'"),
    ("just some text\n", r"captions.txt:1: expected the header"),
], ids=["blank", "header-only", "empty-caption", "one-column", "no-header"])
def test_flickr_errors(tmp_path, content, message):
    path = tmp_path / "captions.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_flickr8k(path)


def test_flickr_missing_captions_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_flickr8k(tmp_path / "nope.txt")


def _coco(path, images, annotations):
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return path


def test_coco(tmp_path):
    _images(tmp_path, "1.jpg", "2.jpg", "3.jpg")
    path = _coco(
        tmp_path / "captions_val2017.json",
        [{"id": 2, "file_name": "2.jpg"}, {"id": 1, "file_name": "1.jpg"},
         {"id": 3, "file_name": "3.jpg"}],
        [{"image_id": 1, "caption": " A bus . "}, {"image_id": 2, "caption": "A cat."},
         {"image_id": 1, "caption": "A red bus."}],
    )
    assert read_coco(path) == [
        Example(str(tmp_path / "2.jpg"), ["A cat."], f"{path}:annotations[1]"),
        Example(str(tmp_path / "1.jpg"), ["A bus .", "A red bus."], f"{path}:annotations[0]"),
    ]


def test_coco_errors(tmp_path):
    _images(tmp_path / "imgs", "1.jpg")
    path = tmp_path / "captions.json"
    _coco(path, [{"id": 1, "file_name": "1.jpg"}], [{"image_id": 9, "caption": "x"}])
    with pytest.raises(DataError, match=r"captions.json: annotations\[0\] refers to image id 9"):
        read_coco(path, image_dir=tmp_path / "imgs")
    _coco(path, [{"id": 1, "file_name": "2.jpg"}], [{"image_id": 1, "caption": "x"}])
    with pytest.raises(DataError, match=r"captions.json: image '2.jpg' not found in .*imgs"):
        read_coco(path, image_dir=tmp_path / "imgs")
    _coco(path, [{"id": 1, "file_name": "1.jpg"}], [{"image_id": 1, "caption": " "}])
    with pytest.raises(DataError, match=r"annotations\[0\]: empty caption"):
        read_coco(path, image_dir=tmp_path / "imgs")
    _coco(path, [{"id": 1, "file_name": "1.jpg"}], [])
    with pytest.raises(DataError, match=r"captions.json: no captions found"):
        read_coco(path, image_dir=tmp_path / "imgs")
    path.write_text('{"images": [],\n "annotations": [}')
    with pytest.raises(DataError, match=r"captions.json:2: not valid JSON"):
        read_coco(path)
    path.write_text('{"images": []}')
    with pytest.raises(DataError, match=r"no 'annotations' field"):
        read_coco(path)
    path.write_text("")
    with pytest.raises(DataError, match=r"captions.json: no captions found"):
        read_coco(path)


def test_image_format(tmp_path):
    (tmp_path / "a.jpg").write_bytes(JPEG)
    (tmp_path / "b.png").write_bytes(PNG)
    (tmp_path / "c.jpg").write_bytes(b"<html>not an image</html>")
    (tmp_path / "d.jpg").write_bytes(b"")
    assert image_format(tmp_path / "a.jpg") == "jpeg"
    assert image_format(tmp_path / "b.png") == "png"
    assert image_format(tmp_path / "c.jpg") is None
    assert image_format(tmp_path / "d.jpg") is None
    with pytest.raises(DataError, match="no such file"):
        image_format(tmp_path / "e.jpg")


def test_flickr_stream_yields_as_it_reads_in_file_order(tmp_path):
    """The first image's example comes before a bad line further down is read; runs of one
    image's lines are examples in file order, which read_flickr8k merges."""
    from seqtasks.recipes.captioning.data import iter_flickr8k, merged

    images = _images(tmp_path / "Images", "a.jpg", "b.jpg")
    path = tmp_path / "captions.txt"
    path.write_text("image,caption\na.jpg,A cat .\na.jpg,A cat sits .\nb.jpg,A tree .\n"
                    "a.jpg,A cat again .\nb.jpg,A tree again .\nno comma here\n")
    stream = iter_flickr8k(path)
    assert next(stream) == Example(str(images / "a.jpg"), ["A cat .", "A cat sits ."],
                                   f"{path}:2")
    assert next(stream).captions == ["A tree ."]
    assert next(stream) == Example(str(images / "a.jpg"), ["A cat again ."], f"{path}:5")
    with pytest.raises(DataError, match=r"captions.txt:7: expected 'image,caption'"):
        next(stream)
    path.write_text("image,caption\na.jpg,A cat .\nb.jpg,A tree .\na.jpg,A cat again .\n")
    assert [e.captions for e in merged(iter_flickr8k(path))] == [
        ["A cat .", "A cat again ."], ["A tree ."]]


def test_flickr_stream_with_a_split_list_keeps_file_order(tmp_path):
    from seqtasks.recipes.captioning.data import iter_flickr8k

    _images(tmp_path, "a.jpg", "b.jpg", "c.jpg")
    path = tmp_path / "Flickr8k.token.txt"
    path.write_text("a.jpg#0\tA cat .\nb.jpg#0\tA tree .\nc.jpg#0\tA car .\n")
    split = tmp_path / "split.txt"
    split.write_text("c.jpg\na.jpg\n")
    assert [e.captions for e in iter_flickr8k(path, split_list=split)] == [
        ["A cat ."], ["A car ."]]


def _coco_records(count):
    images = [{"id": i, "file_name": f"{i % 3}.jpg"} for i in range(count)]
    annotations = [{"id": j, "image_id": (j * 7) % count, "caption": f"caption {j} ."}
                   for j in range(3 * count)]
    return images, annotations


def test_coco_annotations_before_images_and_gzip(tmp_path):
    """Annotations may come first and in any image order; ids of either type; .json.gz."""
    from seqtasks.recipes.captioning.data import iter_captions

    _images(tmp_path, "1.jpg", "2.jpg")
    path = tmp_path / "captions_x.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps({
            "info": {"images": "not these"},
            "annotations": [{"image_id": "b", "caption": "B one"}, {"image_id": 1, "caption": "A"},
                            {"image_id": "b", "caption": "B two"}],
            "images": [{"id": 1, "file_name": "1.jpg"}, {"id": "b", "file_name": "2.jpg"},
                       {"id": "1", "file_name": "2.jpg"}]}))
    assert list(iter_captions(path, tmp_path)) == [
        Example(str(tmp_path / "1.jpg"), ["A"], f"{path}:annotations[1]"),
        Example(str(tmp_path / "2.jpg"), ["B one", "B two"], f"{path}:annotations[0]"),
    ]


def test_coco_shapes_that_are_not_a_captions_file(tmp_path):
    path = tmp_path / "captions.json"
    for text, message in [("[1, 2]", "expected a JSON object"),
                          ('{"images": 5, "annotations": []}', "'images' is 5, expected list"),
                          ('{"images": [{"id": 1}], "annotations": []}',
                           r"images\[0\] has no 'file_name' field")]:
        path.write_text(text)
        with pytest.raises(DataError, match=message):
            read_coco(path, image_dir=tmp_path)


def test_coco_is_read_without_holding_the_file(tmp_path):
    """Reading a COCO file allocates less than half the file's size at any moment (json.load
    builds Python objects of about 5x its size here: 24 MB for 4.5 MB); the examples are all
    there."""
    import tracemalloc

    from seqtasks.recipes.captioning.data import iter_coco

    _images(tmp_path, "0.jpg", "1.jpg", "2.jpg")
    images, annotations = _coco_records(20_000)
    path = _coco(tmp_path / "captions.json", images, annotations)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = captions = 0
        for example in iter_coco(path):
            count += 1
            captions += len(example.captions)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, captions) == (20_000, 60_000)
    assert peak < size / 2, (peak, size)


# ----- the captioning recipe on these layouts ------------------------------------------------

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
