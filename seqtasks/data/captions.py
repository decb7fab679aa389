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
"""

from __future__ import annotations

import collections
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


def read_coco(annotations_path, image_dir=None):
    """The examples of a COCO ``captions_*.json`` file; ``image_dir`` defaults to its
    directory."""
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
    if image_dir is None:
        image_dir = os.path.dirname(os.path.abspath(annotations_path))
    image_dir = str(image_dir)
    examples = []
    for image_id, name in names.items():
        if image_id in groups:
            where, captions = groups[image_id]
            path = _image_path(image_dir, name, annotations_path)
            examples.append(Example(path, captions, where))
    if not examples:
        raise DataError(f"{annotations_path}: no captions found")
    return examples
