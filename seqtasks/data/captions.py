"""Read image-captioning data (images and their reference captions), with file:line in errors.

Two layouts are read:

* Flickr8k: either ``captions.txt``, a CSV file with the header ``image,caption`` (the
  Kaggle layout; a caption is everything after the first comma, so unquoted commas in a
  caption are kept), or ``Flickr8k.token.txt``, one ``image#n<TAB>caption`` per line. The
  layout is detected from the first non-blank line. An optional split list
  (``Flickr_8k.trainImages.txt``, one image name per line) keeps only the listed images, in
  the list's order.
* COCO: ``captions_*.json`` with ``images`` (``id``, ``file_name``) and ``annotations``
  (``image_id``, ``caption``).

The captions of an image are grouped in file order; images come in the order of their first
caption (Flickr8k without a split list) or of ``images`` (COCO; images without a caption are
left out). Every image kept must exist in the image directory. Each example is an
:class:`Example` whose ``where`` ("path:line" of its first caption; "path:annotations[i]" for
COCO) lets later checks name where an image came from.

For the captioning recipe's pipeline: :class:`ImageBytes` (an image's bytes read when taken)
and :func:`image_dataset` feed the images to a signature or to ``tf.data``; :func:`readable`
leaves out (or names) the images that do not decode; :func:`nearest_captions` is the
nearest-caption baseline from image features.
"""

from __future__ import annotations

import collections
import collections.abc
import csv
import io
import json
import os

from seqtasks.data.readers import read_text
from seqtasks.errors import DataError

Example = collections.namedtuple("Example", "image captions where")

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"


def image_format(path):
    """"jpeg" or "png" from the file's first bytes, None for anything else (corrupt, empty,
    another format); a missing file is a :class:`DataError`."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if head.startswith(_JPEG):
        return "jpeg"
    if head.startswith(_PNG):
        return "png"
    return None


def _image_path(image_dir, name, where):
    path = os.path.abspath(os.path.join(image_dir, name))
    if not os.path.isfile(path):
        raise DataError(f"{where}: image {name!r} not found in {image_dir}")
    return path


def _flickr_csv(path, text):
    """(image, caption, line) for each row of a ``image,caption`` CSV file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = True
    start = 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not row or all(not cell.strip() for cell in row):
            continue
        if header:
            header = False
            continue
        if len(row) < 2:
            raise DataError(
                f"{path}:{line}: expected 'image,caption', found {len(row)} column(s)"
            )
        yield row[0].strip(), ",".join(row[1:]), line


def _flickr_token(path, lines):
    """(image, caption, line) for each ``image#n<TAB>caption`` line."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        if not tab:
            raise DataError(f"{path}:{number}: expected 'image#n<TAB>caption', found no TAB")
        image = key.rpartition("#")[0] if "#" in key else key
        yield image.strip(), caption, number


def _group(path, rows):
    """Captions grouped by image in file order: image -> (first line, [captions])."""
    groups = {}
    for image, caption, line in rows:
        if not image:
            raise DataError(f"{path}:{line}: empty image name")
        caption = caption.strip()
        if not caption:
            raise DataError(f"{path}:{line}: empty caption for image {image!r}")
        groups.setdefault(image, (line, []))[1].append(caption)
    return groups


def _split_names(split_list):
    names = []
    for number, line in enumerate(read_text(split_list).splitlines(), 1):
        name = line.strip()
        if name:
            names.append((name, number))
    return names


def read_flickr8k(captions_path, image_dir=None, split_list=None):
    """The examples of a Flickr8k captions file (``captions.txt`` or ``Flickr8k.token.txt``).

    ``image_dir`` defaults to ``<captions dir>/Images`` if it exists, else the captions
    file's directory. ``split_list`` keeps only the images it names, in its order."""
    text = read_text(captions_path)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise DataError(f"{captions_path}: no captions found")
    if first.strip().lower().replace(" ", "") == "image,caption":
        rows = _flickr_csv(captions_path, text)
    elif "\t" in first:
        rows = _flickr_token(captions_path, lines)
    else:
        number = next(i for i, line in enumerate(lines, 1) if line.strip())
        raise DataError(
            f"{captions_path}:{number}: expected the header 'image,caption' (captions.txt) or "
            f"'image#n<TAB>caption' lines (Flickr8k.token.txt), found {first[:60]!r}"
        )
    groups = _group(captions_path, rows)
    if image_dir is None:
        base = os.path.dirname(os.path.abspath(captions_path))
        images = os.path.join(base, "Images")
        image_dir = images if os.path.isdir(images) else base
    image_dir = str(image_dir)

    if split_list is None:
        chosen = list(groups)
    else:
        chosen, seen = [], set()
        for name, number in _split_names(split_list):
            if name not in groups:
                raise DataError(
                    f"{split_list}:{number}: image {name!r} has no captions in {captions_path}"
                )
            if name not in seen:
                seen.add(name)
                chosen.append(name)
    examples = []
    for name in chosen:
        line, captions = groups[name]
        where = f"{captions_path}:{line}"
        examples.append(Example(_image_path(image_dir, name, where), captions, where))
    if not examples:
        raise DataError(f"{split_list or captions_path}: no captions found")
    return examples


def _field(path, record, key, kind, what):
    if not isinstance(record, dict) or key not in record:
        raise DataError(f"{path}: {what} has no {key!r} field; expected a COCO captions file")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(f"{path}: {what} field {key!r} is {value!r}, expected {expected}")
    return value


def coco_image_dir(annotations_path):
    """COCO's layout, ``annotations/captions_train2017.json`` beside ``train2017/``: that
    folder if it exists, else the annotations file's own folder."""
    base = os.path.basename(annotations_path)
    folder = os.path.dirname(os.path.abspath(annotations_path))
    if base.startswith("captions_") and base.endswith(".json"):
        candidate = os.path.join(os.path.dirname(folder), base[len("captions_"):-len(".json")])
        if os.path.isdir(candidate):
            return candidate
    return folder


def read_coco(annotations_path, image_dir=None):
    """The examples of a COCO ``captions_*.json`` file; ``image_dir`` defaults to
    :func:`coco_image_dir`."""
    text = read_text(annotations_path)
    if not text.strip():
        raise DataError(f"{annotations_path}: no captions found")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{annotations_path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise DataError(f"{annotations_path}: expected a JSON object with 'images' and "
                        f"'annotations', found {type(data).__name__}")
    images = _field(annotations_path, data, "images", list, "the file")
    annotations = _field(annotations_path, data, "annotations", list, "the file")
    names = {}
    for i, image in enumerate(images):
        what = f"images[{i}]"
        image_id = _field(annotations_path, image, "id", (int, str), what)
        names[image_id] = _field(annotations_path, image, "file_name", str, what)
    groups = {}
    for i, annotation in enumerate(annotations):
        what = f"annotations[{i}]"
        image_id = _field(annotations_path, annotation, "image_id", (int, str), what)
        caption = _field(annotations_path, annotation, "caption", str, what).strip()
        if image_id not in names:
            raise DataError(f"{annotations_path}: {what} refers to image id {image_id!r}, "
                            "which is not in 'images'")
        if not caption:
            raise DataError(f"{annotations_path}: {what}: empty caption for image id "
                            f"{image_id!r}")
        groups.setdefault(image_id, (f"{annotations_path}:{what}", []))[1].append(caption)
    image_dir = str(image_dir or coco_image_dir(annotations_path))
    examples = []
    for image_id, name in names.items():
        if image_id in groups:
            where, captions = groups[image_id]
            path = _image_path(image_dir, name, annotations_path)
            examples.append(Example(path, captions, where))
    if not examples:
        raise DataError(f"{annotations_path}: no captions found")
    return examples


def read_image_files(paths):
    """The bytes of each JPEG or PNG file of ``paths``; anything else is a DataError."""
    images = []
    for path in paths:
        if os.path.isdir(path):
            raise DataError(f"{path}: is a folder, expected a JPEG or PNG image file")
        if image_format(path) is None:
            raise DataError(f"{path}: not a JPEG or PNG image")
        with open(path, "rb") as f:
            images.append(f.read())
    return images


def from_tfds(rows, where):
    """The examples of TFDS rows with an ``image`` (encoded bytes: ``SkipDecoding``) and
    ``captions`` (a sequence of texts, or of ``{"text": ...}``) feature; ``where`` names the
    split. Blank captions are dropped, and images left without one."""
    examples = []
    for i, row in enumerate(rows):
        captions = row.get("captions")
        if isinstance(captions, dict):
            captions = captions.get("text")
        if captions is None or "image" not in row:
            raise DataError(f"{where}: expected 'image' and 'captions' features")
        texts = [t for t in (c.decode("utf-8").strip() for c in captions) if t]
        if texts:
            examples.append(Example(bytes(row["image"]), texts, f"{where}[{i}]"))
    return examples


def _source_name(example):
    """An example's image file, or where it came from when its image is bytes."""
    return example.input if isinstance(example.input, str) else example.where


class ImageBytes(collections.abc.Sequence):
    """The encoded bytes of images given as file paths or bytes; a file is read only when its
    item (or a slice, as an object array) is taken, so a large data set is never held whole."""

    def __init__(self, sources):
        self.sources = list(sources)

    def __len__(self):
        return len(self.sources)

    def __getitem__(self, index):
        if isinstance(index, slice):
            import numpy as np

            items = [self[i] for i in range(*index.indices(len(self)))]
            out = np.empty(len(items), object)
            out[:] = items
            return out
        source = self.sources[index]
        if isinstance(source, str):
            with open(source, "rb") as f:
                return f.read()
        return bytes(source)


def image_dataset(examples):
    """A ``tf.data`` dataset of the encoded bytes of each example's image (``input``: a file
    path, read inside ``tf.data``, or the bytes themselves), in order."""
    import tensorflow as tf

    sources = [e.input for e in examples]
    if all(isinstance(s, str) for s in sources):
        return tf.data.Dataset.from_tensor_slices(tf.constant(sources, tf.string)).map(
            tf.io.read_file)
    return tf.data.Dataset.from_tensor_slices(tf.constant(sources, tf.string))


def read_captions(path, image_dir=None, split_list=None):
    """The examples of a COCO file (``.json``) or a Flickr8k one (with ``split_list``)."""
    if path.lower().endswith(".json"):
        return read_coco(path, image_dir)
    return read_flickr8k(path, image_dir, split_list)


def readable(examples, size, corrupt="error", what="the data"):
    """``(kept, skipped names)``: the examples whose image decodes as JPEG or PNG (decoded and
    resized to ``size`` inside ``tf.data``, as training does), and the names of the others.
    With ``corrupt="error"`` an unreadable image is a :class:`DataError` naming the first;
    ``what`` names the examples when none is readable."""
    import tensorflow as tf

    from seqtasks.layers.images import decode_image

    indexed = tf.data.Dataset.zip(tf.data.Dataset.range(len(examples)), image_dataset(examples))
    decoded = indexed.map(lambda i, raw: (i, decode_image(raw, size)),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    good = set()
    for i, _ in decoded.ignore_errors().batch(256):
        good.update(i.numpy().tolist())
    bad = [e for i, e in enumerate(examples) if i not in good]
    if bad and corrupt == "error":
        name = bad[0].input if isinstance(bad[0].input, str) else "the image"
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"{bad[0].where}: {name} is not a readable JPEG or PNG image{more}; set "
                        f"data.corrupt_images = \"skip\" to leave such images out")
    if not good:
        raise DataError(f"{what}: no readable image")
    return [e for i, e in enumerate(examples) if i in good], [_source_name(e) for e in bad]


def skipped_summary(skipped):
    """The data summary's entry for ``{split: [unreadable image names]}`` (None: none)."""
    names = [name for split in skipped.values() for name in split]
    if not names:
        return None
    return {"count": len(names), **{s: len(v) for s, v in skipped.items() if v},
            "first": [str(name) for name in names[:5]]}


def nearest_captions(train_features, query_features, train_captions, lowercase=True):
    """The nearest-caption baseline: for each query image, a caption of the training image
    whose features are most similar (cosine); of that image's captions, the one agreeing most
    with its others (highest sentence BLEU against them)."""
    import numpy as np
    import sacrebleu

    def normalised(rows):
        x = np.stack(rows)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    train, query = normalised(train_features), normalised(query_features)
    nearest = np.concatenate([np.argmax(query[i:i + 256] @ train.T, axis=1)
                              for i in range(0, len(query), 256)])
    chosen = {}
    for index in set(nearest.tolist()):
        captions = train_captions[index]
        if len(captions) == 1:
            chosen[index] = captions[0]
            continue
        agreement = [sacrebleu.sentence_bleu(
            c, [o for j, o in enumerate(captions) if j != i], lowercase=lowercase).score
            for i, c in enumerate(captions)]
        chosen[index] = captions[int(np.argmax(agreement))]
    return [chosen[i] for i in nearest.tolist()]
