"""Read image-captioning data (images and their reference captions), with file:line in errors.

Flickr8k (``captions.txt`` CSV or ``Flickr8k.token.txt``, with an optional split list) and
COCO (``captions_*.json``, indexed on disk) files are streamed, one image's :class:`Example` at a
time; its ``where`` names its first caption. Also the image pipeline's helpers and the
nearest-caption baseline (:func:`nearest_captions`).
"""

from __future__ import annotations

import collections
import collections.abc
import csv
import gzip
import itertools
import json
import os

from seqtasks.data.readers import iter_lines, read_text
from seqtasks.errors import ConfigError, DataError
from seqtasks.recipes import base
from seqtasks.recipes.reader import Reader

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
    for kind, magic in (("jpeg", _JPEG), ("png", _PNG)):
        if head.startswith(magic):
            return kind
    return None


def _image_path(image_dir, name, where):
    path = os.path.abspath(os.path.join(image_dir, name))
    if not os.path.isfile(path):
        raise DataError(f"{where}: image {name!r} not found in {image_dir}")
    return path


def _flickr_csv(path, lines, header):
    """(image, caption, line) of each non-blank row after line ``header`` of a CSV file."""
    reader = csv.reader(lines)
    start = 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if line <= header or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise DataError(f"{path}:{line}: expected 'image,caption', found {len(row)} "
                            "column(s)")
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


def _flickr_rows(path):
    """(image, caption, line) rows of a Flickr8k file, its layout found from its first line."""
    lines = iter_lines(path)
    peeked = []
    for line in lines:
        peeked.append(line)
        if line.strip():
            break
    else:
        raise DataError(f"{path}: no captions found")
    first, lines = peeked[-1], itertools.chain(peeked, lines)
    if first.strip().lower().replace(" ", "") == "image,caption":
        return _flickr_csv(path, lines, len(peeked))
    if "\t" in first:
        return _flickr_token(path, lines)
    raise DataError(f"{path}:{len(peeked)}: expected the header 'image,caption' (captions.txt) "
                    "or 'image#n<TAB>caption' lines (Flickr8k.token.txt), found "
                    f"{first.strip()[:60]!r}")


def _checked(path, rows):
    """``rows``, each with an image name and a caption (stripped)."""
    for image, caption, line in rows:
        if not image:
            raise DataError(f"{path}:{line}: empty image name")
        caption = caption.strip()
        if not caption:
            raise DataError(f"{path}:{line}: empty caption for image {image!r}")
        yield image, caption, line


def _split_names(split_list):
    """``{image name: line}`` of a split list (first mention kept), in its order."""
    names = {}
    for number, line in enumerate(iter_lines(split_list), 1):
        name = line.strip()
        if name:
            names.setdefault(name, number)
    return names


def flickr_image_dir(captions_path):
    """Flickr8k's layout: ``<captions dir>/Images`` if it exists, else the captions dir."""
    folder = os.path.dirname(os.path.abspath(captions_path))
    images = os.path.join(folder, "Images")
    return images if os.path.isdir(images) else folder


def iter_flickr8k(captions_path, image_dir=None, split_list=None):
    """Yield a Flickr8k file's examples as read: one per run of consecutive lines of an image.
    ``split_list`` keeps only the images it names (each must have captions)."""
    rows = _checked(captions_path, _flickr_rows(captions_path))
    image_dir = str(image_dir if image_dir is not None else flickr_image_dir(captions_path))
    wanted = None if split_list is None else _split_names(split_list)
    found, count = set(), 0
    for name, run in itertools.groupby(rows, key=lambda row: row[0]):
        if wanted is not None:
            if name not in wanted:
                continue
            found.add(name)
        run = list(run)
        where = f"{captions_path}:{run[0][2]}"
        count += 1
        yield Example(_image_path(image_dir, name, where), [c for _, c, _ in run], where)
    missing = next((n for n in wanted or () if n not in found), None)
    if missing is not None:
        raise DataError(f"{split_list}:{wanted[missing]}: image {missing!r} has no captions "
                        f"in {captions_path}")
    if not count:
        raise DataError(f"{split_list or captions_path}: no captions found")


def merged(examples):
    """``(image, captions, where)`` tuples, each image's merged into its first, in a list."""
    groups = {}
    for example in examples:
        image, texts, where = example[:3]
        key = image if isinstance(image, str) else where
        if key in groups:
            groups[key][1].extend(texts)
        else:
            groups[key] = type(example)(image, list(texts), where)
    return list(groups.values())


def read_flickr8k(captions_path, image_dir=None, split_list=None):
    """:func:`iter_flickr8k`, each image's captions merged, in a split list's order if given."""
    examples = merged(iter_flickr8k(captions_path, image_dir, split_list))
    if split_list is not None:
        folder = str(image_dir if image_dir is not None else flickr_image_dir(captions_path))
        order = {os.path.abspath(os.path.join(folder, name)): i
                 for i, name in enumerate(_split_names(split_list))}
        examples.sort(key=lambda e: order[e.image])
    return examples


def coco_image_dir(annotations_path):
    """``train2017/`` beside ``annotations/captions_train2017.json`` if it exists, else the
    annotations file's folder."""
    name = os.path.basename(annotations_path)
    folder = os.path.dirname(os.path.abspath(annotations_path))
    if name.startswith("captions_") and name.endswith(".json"):
        candidate = os.path.join(os.path.dirname(folder), name[len("captions_"):-len(".json")])
        if os.path.isdir(candidate):
            return candidate
    return folder


def _field(path, record, key, kind, what):
    if not isinstance(record, dict) or key not in record:
        raise DataError(f"{path}: {what} has no {key!r} field; expected a COCO captions file")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = " or ".join(k.__name__ for k in kind)
        raise DataError(f"{path}: {what} field {key!r} is {value!r}, expected {expected}")
    return value


#: The fields of a COCO ``images`` / ``annotations`` record: its image id, then its text.
_COCO_FIELDS = {"images": ("id", "file_name"), "annotations": ("image_id", "caption")}


def _coco_row(path, array, i, record):
    """The index row ``(image id as JSON, file name or caption, i)`` of ``array[i]``, checked."""
    what = f"{array}[{i}]"
    id_key, text_key = _COCO_FIELDS[array]
    image_id = _field(path, record, id_key, (int, str), what)
    text = _field(path, record, text_key, (str,), what)
    if array == "annotations":
        text = text.strip()
        if not text:
            raise DataError(f"{path}: {what}: empty caption for image id {image_id!r}")
    return json.dumps(image_id), text, i


#: Largest COCO file parsed whole again to find a JSON error's line (ijson does not say).
_LOCATE_BYTES = 256 * 2**20


def _json_error(path, error):
    if os.path.getsize(path) <= _LOCATE_BYTES:
        try:
            json.loads(read_text(path))
        except json.JSONDecodeError as e:
            return DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})")
    first = (str(error).strip().splitlines() or ["parse error"])[0]
    return DataError(f"{path}: not valid JSON ({first})")


def _coco_records(path):
    """Yield ``(array, index, record)`` of each item of a COCO file's ``images`` and
    ``annotations``, parsed incrementally."""
    import ijson

    present, depth, builder, top_kind, array, index = set(), 0, None, None, None, 0
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            for prefix, event, value in ijson.parse(f):
                if top_kind is None:
                    top_kind = event
                    if event != "start_map":
                        kind = {"start_array": "list"}.get(event, event)
                        raise DataError(f"{path}: expected a JSON object with 'images' and "
                                        f"'annotations', found {kind}")
                    continue
                if prefix in ("images", "annotations") and prefix not in present:
                    present.add(prefix)
                    array, index = prefix, 0
                    if event != "start_array":
                        found = {} if event == "start_map" else value
                        raise DataError(f"{path}: the file field {prefix!r} is {found!r}, "
                                        "expected list")
                    continue
                if builder is None and prefix in ("images.item", "annotations.item") \
                        and prefix[:-5] == array:
                    builder, depth = ijson.ObjectBuilder(), 0
                if builder is not None:
                    builder.event(event, value)
                    depth += event in ("start_map", "start_array")
                    depth -= event in ("end_map", "end_array")
                    if depth == 0:
                        yield array, index, builder.value
                        index, builder = index + 1, None
    except ijson.JSONError as e:
        if top_kind is None and not read_text(path).strip():
            raise DataError(f"{path}: no captions found") from None
        raise _json_error(path, e) from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    for key in ("images", "annotations"):
        if key not in present:
            raise DataError(f"{path}: the file has no {key!r} field; expected a COCO captions "
                            "file")


class CocoIndex:
    """A COCO captions file indexed in SQLite ``file`` by one checked, incremental pass; read
    back one image at a time, in file order (COCO does not group annotations by image)."""

    def __init__(self, path, file):
        import sqlite3

        self.path, self.file = path, str(file)
        if os.path.exists(self.file):
            os.remove(self.file)
        db = sqlite3.connect(self.file)
        try:
            self._fill(db)
        except BaseException:
            db.close()
            os.remove(self.file)
            raise
        db.close()

    def _fill(self, db):
        db.execute("CREATE TABLE images (id TEXT, name TEXT, ord INTEGER)")
        db.execute("CREATE TABLE annotations (image TEXT, caption TEXT, ord INTEGER)")
        for array, records in itertools.groupby(_coco_records(self.path), lambda r: r[0]):
            db.executemany(f"INSERT INTO {array} VALUES (?, ?, ?)",  # streamed, not held
                           (_coco_row(self.path, *record) for record in records))
        db.execute("CREATE INDEX images_by_id ON images (id)")
        db.execute("CREATE INDEX annotations_by_image ON annotations (image, ord)")
        orphan = db.execute("SELECT a.ord, a.image FROM annotations a LEFT JOIN images i "
                            "ON a.image = i.id WHERE i.id IS NULL ORDER BY a.ord LIMIT 1"
                            ).fetchone()
        if orphan is not None:
            raise DataError(f"{self.path}: annotations[{orphan[0]}] refers to image id "
                            f"{json.loads(orphan[1])!r}, which is not in 'images'")
        db.commit()

    def __iter__(self):
        """``(file name, index of the first caption, [captions])`` of each captioned image."""
        import sqlite3

        db = sqlite3.connect(self.file, check_same_thread=False)  # tf.data's threads
        try:
            rows = db.execute("SELECT i.ord, i.name, a.caption, a.ord FROM images i JOIN "
                              "annotations a ON a.image = i.id ORDER BY i.ord, a.ord")
            for _, run in itertools.groupby(rows, key=lambda row: row[0]):
                run = list(run)
                yield run[0][1], run[0][3], [caption for _, _, caption, _ in run]
        finally:
            db.close()


_coco_indexes = {}


def coco_index(path):
    """The :class:`CocoIndex` of ``path``, made once per process and file version."""
    from seqtasks.data.pipeline import cache_folder

    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    if key not in _coco_indexes:
        file = cache_folder(None) / f"coco-{len(_coco_indexes)}.sqlite"
        _coco_indexes[key] = CocoIndex(path, file)
    return _coco_indexes[key]


def iter_coco(annotations_path, image_dir=None):
    """Yield a COCO file's examples: its captioned images in the order of ``images``."""
    index = coco_index(annotations_path)
    image_dir = str(image_dir or coco_image_dir(annotations_path))
    count = 0
    for name, first, captions in index:
        where = f"{annotations_path}:annotations[{first}]"
        count += 1
        yield Example(_image_path(image_dir, name, annotations_path), captions, where)
    if not count:
        raise DataError(f"{annotations_path}: no captions found")


def read_coco(annotations_path, image_dir=None):
    """The examples of :func:`iter_coco`, in memory."""
    return list(iter_coco(annotations_path, image_dir))


def iter_captions(path, image_dir=None, split_list=None):
    """Yield the examples of a COCO (``.json``, ``.json.gz``) or Flickr8k file as read."""
    name = str(path).lower()
    if name.endswith(".json") or name.endswith(".json.gz"):
        return iter_coco(path, image_dir)
    return iter_flickr8k(path, image_dir, split_list)


def source_name(example):
    """An example's image file, or where it came from when its image is bytes."""
    return example.input if isinstance(example.input, str) else example.where


class ImageBytes(collections.abc.Sequence):
    """Encoded images from file paths or bytes; a file is read when its item (or a slice, as
    an object array) is taken."""

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
    """A ``tf.data`` dataset of each example's encoded image (``input``: a path or bytes)."""
    import tensorflow as tf

    sources = [e.input for e in examples]
    data = tf.data.Dataset.from_tensor_slices(tf.constant(sources, tf.string))
    return data.map(tf.io.read_file) if all(isinstance(s, str) for s in sources) else data


def image_stream(examples, targets):
    """:func:`image_dataset` of a :class:`~seqtasks.data.stream.Stream` zipped with
    ``targets(chunk)`` (what ``from_tensor_slices`` takes), read a chunk at a time."""
    import numpy as np
    import tensorflow as tf

    from seqtasks.data.pipeline import stream_dataset

    def convert(chunk):
        sources = np.empty(len(chunk), object)
        sources[:] = [e.input for e in chunk]
        return sources, targets(chunk)

    data = stream_dataset(examples, convert, probe=examples.head).unbatch()
    if isinstance(examples.head[0].input, str):
        return data.map(lambda path, ids: (tf.io.read_file(path), ids))
    return data


def _decodable(examples, size):
    """Indices of the examples (a list) whose image decodes and resizes as training's does."""
    import tensorflow as tf

    from seqtasks.layers.images import decode_image

    indexed = tf.data.Dataset.zip(tf.data.Dataset.range(len(examples)), image_dataset(examples))
    decoded = indexed.map(lambda i, raw: (i, decode_image(raw, size)),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    good = set()
    for i, _ in decoded.ignore_errors().batch(256):
        good.update(i.numpy().tolist())
    return good


def readable(examples, size, corrupt="error", skipped=None, what="the data", chunk=256):
    """Yield the examples whose image decodes, appending the others' names to ``skipped``.
    At the end, unreadable images are a :class:`DataError` if ``corrupt="error"``, and so is
    having no readable image (``what`` names the data)."""
    from seqtasks.data.pipeline import chunks

    skipped = [] if skipped is None else skipped
    first_bad, bad_count, good_count = None, 0, 0
    for part in chunks(examples, chunk):
        good = _decodable(part, size)
        for i, example in enumerate(part):
            if i in good:
                good_count += 1
                yield example
                continue
            bad_count += 1
            first_bad = first_bad or example
            if source_name(example) not in skipped:  # a file read in part before
                skipped.append(source_name(example))
    if bad_count and corrupt == "error":
        name = first_bad.input if isinstance(first_bad.input, str) else "the image"
        more = f" (and {bad_count - 1} more)" if bad_count > 1 else ""
        raise DataError(f"{first_bad.where}: {name} is not a readable JPEG or PNG image{more}; "
                        "set data.corrupt_images = \"skip\" to leave such images out")
    if bad_count and not good_count:
        raise DataError(f"{what}: no readable image")


def skipped_summary(skipped):
    """The data summary's entry for ``{split: [unreadable image names]}`` (None: none)."""
    names = [name for split in skipped.values() for name in split]
    if not names:
        return None
    return {"count": len(names), **{s: len(v) for s, v in skipped.items() if v},
            "first": [str(name) for name in names[:5]]}


def normalised(rows):
    """Feature rows (an array, or a list of rows) scaled to unit length."""
    import numpy as np

    x = np.stack(rows)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def nearest_captions(train_features, query_features, train_captions, lowercase=True):
    """For each query image, the caption of the most similar (cosine) training image that
    agrees most with its other captions (sentence BLEU)."""
    import numpy as np
    import sacrebleu

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


class CaptioningReader(Reader):
    """Flickr8k/COCO files, TFDS datasets and the built-in scenes; an image that does not
    decode stops the run or is left out and counted (``data.corrupt_images``)."""

    def __init__(self, config, recipe):
        super().__init__(config, recipe)
        #: ``{split: [names of the unreadable images left out]}``, found on a file's first read.
        self.skipped = {}
        #: ``(split, file)`` read through once, their unreadable images known.
        self.checked = set()

    def builtin(self, seed):
        import tensorflow as tf

        from seqtasks.recipes.captioning import builtin

        return {split: [base.Example(tf.io.encode_png(image).numpy(), texts,
                                f"built-in {split} image {i}")
                        for i, (image, texts) in enumerate(examples)]
                for split, examples in builtin.splits(seed).items()}

    def read_file(self, path, split):
        """The examples of a captions file, yielded as read (see :func:`iter_captions`)."""
        data, split_list = self.config["data"], self.config["data"].get(f"{split}_images")
        if not isinstance(path, str):
            raise ConfigError(f"data.{split}: expected a captions file path, found {path!r}")
        if not os.path.isfile(path):
            raise DataError(f"data.{split}: no such file {path}")
        if data["image_dir"] is not None and not os.path.isdir(data["image_dir"]):
            raise ConfigError(f"data.image_dir: no such folder {data['image_dir']}")
        if split_list is not None and not os.path.isfile(split_list):
            raise DataError(f"data.{split}_images: no such file {split_list}")
        return (base.Example(*e) for e in iter_captions(path, data["image_dir"], split_list))

    def tfds_decoders(self):
        import tensorflow_datasets as tfds

        return {"image": tfds.decode.SkipDecoding()}

    def tfds_examples(self, rows, info, where):
        """Rows with ``image`` bytes and ``captions`` (texts or ``{"text": ...}``); blank
        captions are dropped, and images left without one."""
        for i, row in enumerate(rows):
            captions = row.get("captions")
            if isinstance(captions, dict):
                captions = captions.get("text")
            if captions is None or "image" not in row:
                raise DataError(f"{where}: expected 'image' and 'captions' features")
            texts = [t for t in (c.decode("utf-8").strip() for c in captions) if t]
            if texts:
                yield base.Example(bytes(row["image"]), texts, f"{where}[{i}]")

    def stream(self, spec, split, carving=None):
        """The examples of ``spec`` whose image decodes (see :meth:`readable`)."""
        stream = super().stream(spec, split, carving)
        read = stream.read
        stream.read = lambda item: self.readable(read(item), split, item)
        return stream

    def readable(self, examples, split, item):
        """The examples of file ``item`` whose image decodes: checked on its first read, later
        reads leave out the images recorded then without decoding them."""
        skipped = self.skipped.setdefault(split, [])
        if (split, item) in self.checked:
            bad = set(skipped)
            return (e for e in examples if source_name(e) not in bad)
        return self._first_read(examples, split, item, skipped)

    def _first_read(self, examples, split, item, skipped):
        data = self.config["data"]
        yield from readable(examples, data["image_size"], data["corrupt_images"], skipped,
                            self.describe(split))
        self.checked.add((split, item))

    def read_examples(self, spec, split):
        """A held-out split in memory, the captions of each image merged into one example."""
        return merged(super().read_examples(spec, split))

    def state(self):
        return {**super().state(), "skipped": self.skipped,
                "checked": sorted(self.checked, key=str)}

    def restore(self, state):
        super().restore(state)
        self.skipped.update({s: list(names) for s, names in state["skipped"].items()})
        self.checked.update(tuple(item) for item in state["checked"])

    def raw_inputs(self, examples):
        return {"image": ImageBytes([e.input for e in examples])}

    def prediction_inputs(self, path):
        """The image of each example of a captions file, read when its turn comes."""
        for example in self.read_file(path, "input"):
            yield example.where, {"image": ImageBytes([example.input])[0]}

    def read_inputs(self, items):
        """The bytes of each image file named on the command line (JPEG or PNG); bytes given
        (from Python) are taken as they are."""
        images = []
        for path in items:
            if isinstance(path, bytes):
                images.append(path)
                continue
            if os.path.isdir(path):
                raise DataError(f"{path}: is a folder, expected a JPEG or PNG image file")
            if image_format(path) is None:
                raise DataError(f"{path}: not a JPEG or PNG image")
            with open(path, "rb") as f:
                images.append(f.read())
        return images

    def format_prediction(self, inputs, outputs):
        return [t.decode("utf-8") for t in outputs["caption"]]
