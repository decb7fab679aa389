"""Caption data layouts: Flickr8k (captions.txt, Flickr8k.token.txt, split lists) and COCO."""
import gzip
import json
import os
import re

import pytest

from seqtasks.errors import DataError
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
