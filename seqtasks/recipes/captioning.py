"""captioning: one-to-many. An image -> a caption describing it.

image bytes -> decoded and resized in tf.data (JPEG, PNG) -> an image encoder (a small CNN
trained from scratch, or a ``keras.applications`` backbone) -> its flattened feature grid
starts an ElmanRNN decoder through a tanh layer (teacher forcing in training, every caption of
an image in one step) -> optional attention over the grid -> the prediction head -> softmax
over the caption vocabulary. The decoder and its greedy/beam decoding are translation's
:class:`~seqtasks.layers.TextDecoder`.

Corrupt images (files that do not decode as JPEG or PNG) stop a run with the file named
(``data.corrupt_images = "error"``, the default) or are left out and counted in the data
summary (``"skip"``).
"""

import os

from seqtasks.config import Key
from seqtasks.errors import ConfigError, DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import SPLITS, Recipe

_ENCODERS = ("cnn", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
             "efficientnetv2_b0")


def _split_list_key(split):
    return Key(None, (str,), f"Flickr8k: file listing the {split} images, one per line (e.g. "
                             f"Flickr_8k.{'dev' if split == 'validation' else split}Images.txt)")


@register
class Captioning(Recipe):
    name = "captioning"
    description = "one-to-many: an image -> a caption (image encoder + Elman decoder)"
    serving_input = "image"
    schema_extra = {
        "data": {
            "image_dir": Key(None, (str,), "folder of the images; default: <captions dir>/Images "
                             "(Flickr8k) or, for COCO, <annotations dir>/../<split>2014|2017 "
                             "as named by the file, else the captions file's folder"),
            **{f"{split}_images": _split_list_key(split) for split in SPLITS},
            "image_size": Key(64, (int,), "images are resized to this many pixels square"),
            "augment": Key(False, (bool,), "training images: random shifts of up to 1/8 and "
                           "brightness/contrast jitter (never flips: captions say left/right)"),
            "corrupt_images": Key("error", (str,), "an image that does not decode: stop with "
                                  "its name, or skip it and count it", ("error", "skip")),
            "lowercase": Key(True, (bool,), "lowercase the captions"),
            "split_punctuation": Key(True, (bool,), "make punctuation at word edges a token"),
            "max_tokens": Key(10000, (int,), "largest caption vocabulary, special tokens "
                              "included"),
            "min_count": Key(5, (int,), "words seen fewer times in training captions are "
                             "unknown"),
            "max_length": Key(40, (int,), "training captions longer than this many tokens "
                              "are left out (counted in the data summary)"),
        },
        "model": {
            "encoder": Key("cnn", (str,), "image encoder: a small CNN trained from scratch, or "
                           "a keras.applications backbone", _ENCODERS),
            "encoder_weights": Key(None, (str,), "'imagenet' (downloaded), a weights file or "
                                   "'none'; default: imagenet for backbones, none for cnn"),
            "train_encoder": Key(True, (bool,), "train (fine-tune) the encoder; false freezes "
                                 "it"),
            "attention": Key("bahdanau", (str,), "attention over the image's feature grid "
                             "(Show, Attend and Tell); none: the image only sets the initial "
                             "state (Show and Tell)",
                             ("bahdanau", "luong", "none")),
            "units": Key(256, (int,), "hidden units of the decoder"),
            "embedding_dim": Key(128, (int,), "size of the word embeddings"),
            "hidden_units": Key(256, (int,), "size of the ReLU layer of the prediction head"),
            "dropout": Key(0.3, (float,), "dropout on image features, embeddings, recurrent "
                           "inputs and the head"),
        },
        "train": {
            "epochs": Key(30, (int,), "number of passes over the training images"),
            "batch_size": Key(32, (int,), "images per batch (each with all its captions)"),
            "early_stopping_patience": 4,
            "reduce_lr_patience": 2,
        },
        "decode": {
            "strategy": Key("beam", (str,), "decoding strategy", ("beam", "greedy")),
            "beam_width": Key(3, (int,), "hypotheses kept per image (beam search)"),
            "length_penalty": Key(0.6, (float,), "GNMT length penalty alpha (beam search)"),
            "max_length": Key(40, (int,), "most tokens of a generated caption"),
        },
    }

    # ----- reading -----------------------------------------------------------------------
    def builtin_splits(self, seed):
        import tensorflow as tf

        from seqtasks.data.builtin import captioning as builtin

        return {split: [(tf.io.encode_png(image).numpy(), captions,
                         f"built-in {split} image {i}")
                        for i, (image, captions) in enumerate(examples)]
                for split, examples in builtin.splits(seed).items()}

    def _image_dir(self):
        data = self.config["data"]
        if data["image_dir"] is not None:
            if not os.path.isdir(data["image_dir"]):
                raise ConfigError(f"data.image_dir: no such folder {data['image_dir']}")
            return data["image_dir"]
        return None

    def read_file(self, spec, split):
        from seqtasks.data import captions

        if not isinstance(spec, str):
            raise ConfigError(f"data.{split}: expected a captions file path, found {spec!r}")
        if not os.path.isfile(spec):
            raise DataError(f"data.{split}: no such file {spec}")
        image_dir = self._image_dir()
        if spec.lower().endswith(".json"):
            examples = captions.read_coco(spec, image_dir or _coco_image_dir(spec))
        else:
            split_list = self.config["data"][f"{split}_images"]
            if split_list is not None and not os.path.isfile(split_list):
                raise DataError(f"data.{split}_images: no such file {split_list}")
            examples = captions.read_flickr8k(spec, image_dir, split_list)
        return [(e.image, e.captions, e.where) for e in examples]

    def read_tfds(self, name, split):
        import tensorflow_datasets as tfds

        try:
            dataset = tfds.load(name, split=split,
                                decoders={"image": tfds.decode.SkipDecoding()})
        except Exception as e:  # TFDS raises many types; report one line
            raise DataError(f"tfds:{name}:{split}: cannot load ({type(e).__name__}: {e})") from None
        examples = []
        for i, example in enumerate(tfds.as_numpy(dataset)):
            where = f"tfds:{name}:{split}[{i}]"
            captions = example.get("captions")
            if isinstance(captions, dict):
                captions = captions.get("text")
            if captions is None or "image" not in example:
                raise DataError(f"tfds:{name}: expected 'image' and 'captions' features")
            texts = [c.decode("utf-8").strip() for c in captions]
            texts = [t for t in texts if t]
            if texts:
                examples.append((bytes(example["image"]), texts, where))
        return examples

    # ----- data --------------------------------------------------------------------------
    def _tokenizer_config(self):
        data = self.config["data"]
        return {"lowercase": data["lowercase"], "split_punctuation": data["split_punctuation"]}

    def _decode_split(self, split, examples):
        """Decode and resize every image inside tf.data; corrupt ones are named or skipped."""
        import numpy as np
        import tensorflow as tf

        from seqtasks.layers.images import decode_image

        size = self.config["data"]["image_size"]
        sources = [image for image, _, _ in examples]
        if all(isinstance(s, str) for s in sources):
            data = tf.data.Dataset.from_tensor_slices(sources).map(tf.io.read_file)
        else:
            data = tf.data.Dataset.from_tensor_slices(tf.constant(sources, tf.string))
        indexed = tf.data.Dataset.zip(tf.data.Dataset.range(len(sources)), data)
        decoded = indexed.map(lambda i, raw: (i, decode_image(raw, size)),
                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        indices, images = [], []
        for i, batch in decoded.ignore_errors().batch(256):
            indices.append(i.numpy())
            images.append(batch.numpy())
        kept = np.concatenate(indices) if indices else np.zeros([0], np.int64)
        bad = sorted(set(range(len(sources))) - set(kept.tolist()))
        if bad and self.config["data"]["corrupt_images"] == "error":
            image, _, where = examples[bad[0]]
            name = image if isinstance(image, str) else "the image"
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise DataError(f"{where}: {name} is not a readable JPEG or PNG image{more}; set "
                            f"data.corrupt_images = \"skip\" to leave such images out")
        pixels = (np.concatenate(images) if images
                  else np.zeros([0, size, size, 3], np.uint8))
        return pixels, [examples[i] for i in kept], [examples[i] for i in bad]

    def build_datasets(self):
        import tensorflow as tf

        from seqtasks.layers import TextTokenizer
        from seqtasks.layers.text_decoder import END, START, target_lookup
        from seqtasks.layers.tokens import vocabulary_by_count

        data, train = self.config["data"], self.config["train"]
        splits = self.load_splits()
        self.pixels, self.references, self.where, skipped = {}, {}, {}, {}
        for split, examples in splits.items():
            pixels, kept, bad = self._decode_split(split, examples)
            if not kept:
                raise DataError(f"{self._describe(split)}: no readable image")
            self.pixels[split] = pixels
            self.references[split] = [captions for _, captions, _ in kept]
            self.where[split] = [image if isinstance(image, str) else where
                                 for image, _, where in kept]
            skipped[split] = [image if isinstance(image, str) else where
                              for image, _, where in bad]
        tokenizer = TextTokenizer(**self._tokenizer_config())
        tokens = {split: _tokenize(tokenizer, refs) for split, refs in self.references.items()}
        limit = data["max_length"]
        too_long = sum(len(t) > limit for caps in tokens["train"] for t in caps)
        tokens["train"] = [[t for t in caps if len(t) <= limit] for caps in tokens["train"]]
        vocabulary = vocabulary_by_count((cap for caps in tokens["train"] for cap in caps),
                                         data["max_tokens"] - 4, data["min_count"])
        self.captioner_config = self._model_config(vocabulary)
        lookup = target_lookup(vocabulary)

        def ids_of(token_lists):
            """Ragged ``[images, captions, steps]`` ids with start and end tokens."""
            flat = [[START, *cap, END] for caps in token_lists for cap in caps]
            per_caption = [len(cap) for cap in flat]
            words = tf.constant([t for cap in flat for t in cap] or [""], tf.string)
            ids = tf.cast(lookup(words), tf.int32)[:sum(per_caption)]
            captions = tf.RaggedTensor.from_row_lengths(ids, per_caption)
            return tf.RaggedTensor.from_row_lengths(captions, [len(c) for c in token_lists])

        def split_targets(images, ids):
            ids = ids.to_tensor()
            inputs, targets = ids[:, :-1], ids[:, 1:]
            return (images, inputs), targets, tf.cast(targets > 0, tf.float32)

        datasets = {}
        for split in splits:
            ds = tf.data.Dataset.from_tensor_slices((self.pixels[split], ids_of(tokens[split])))
            if split == "train":
                ds = ds.shuffle(len(self.pixels[split]), seed=train["seed"],
                                reshuffle_each_iteration=True)
                if data["augment"]:
                    ds = ds.map(lambda image, ids: (augment(image), ids),
                                num_parallel_calls=tf.data.AUTOTUNE)
            datasets[split] = (ds.map(split_targets, num_parallel_calls=tf.data.AUTOTUNE)
                               .padded_batch(train["batch_size"])
                               .prefetch(tf.data.AUTOTUNE))
        self.summary = {
            "images": {split: len(self.pixels[split]) for split in splits},
            "captions": {split: sum(len(c) for c in tokens[split]) for split in splits},
            "left_out_too_long": too_long,
            "vocabulary": len(vocabulary) + 4,
            "image_size": data["image_size"],
        }
        count = sum(len(v) for v in skipped.values())
        if count:
            self.summary["skipped_corrupt_images"] = {
                "count": count, **{s: len(v) for s, v in skipped.items() if v},
                "first": [str(x) for v in skipped.values() for x in v][:5]}
        return datasets

    def _model_config(self, vocabulary):
        model = self.config["model"]
        weights = model["encoder_weights"]
        if weights is None:
            weights = "none" if model["encoder"] == "cnn" else "imagenet"
        if weights == "none":
            weights = None
        elif model["encoder"] == "cnn":
            raise ConfigError(f"model.encoder_weights: the cnn encoder is trained from scratch; "
                              f"expected 'none', found {weights!r}")
        elif weights != "imagenet" and not os.path.isfile(weights):
            raise ConfigError(f"model.encoder_weights: expected 'imagenet', 'none' or a weights "
                              f"file, found {weights!r} (no such file)")
        from seqtasks.layers.images import MIN_IMAGE_SIZE

        size = self.config["data"]["image_size"]
        if size < MIN_IMAGE_SIZE[model["encoder"]]:
            raise ConfigError(f"data.image_size: the {model['encoder']} encoder needs at least "
                              f"{MIN_IMAGE_SIZE[model['encoder']]} pixels, found {size}")
        return {
            "vocabulary": vocabulary, "tokenizer": self._tokenizer_config(),
            "image_size": size, "encoder": model["encoder"], "encoder_weights": weights,
            "train_encoder": model["train_encoder"], "cell": model["cell"],
            "units": model["units"], "embedding_dim": model["embedding_dim"],
            "attention": model["attention"], "hidden_units": model["hidden_units"],
            "dropout": model["dropout"], "decoding": dict(self.config["decode"]),
            "name": "captioner",
        }

    # ----- model -------------------------------------------------------------------------
    def build_model(self):
        import keras

        from seqtasks.distribute import get_strategy
        from seqtasks.layers import Captioner
        from seqtasks.training import compile_model

        train, size = self.config["train"], self.config["data"]["image_size"]
        with get_strategy(train["strategy"]).scope():
            images = keras.Input((size, size, 3), dtype="uint8", name="images")
            captions_in = keras.Input((None, None), dtype="int32", name="captions_in")
            try:
                captioner = Captioner(**self.captioner_config)
            except Exception as e:  # downloading or loading backbone weights
                if self.captioner_config["encoder_weights"] is None:
                    raise
                raise ConfigError(
                    f"model.encoder_weights={self.config['model']['encoder_weights'] or 'imagenet'}"
                    f": cannot load the weights of {self.config['model']['encoder']} "
                    f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); give a "
                    "local weights file or 'none'") from None
            probs = captioner([images, captions_in])
            model = keras.Model([images, captions_in], probs, name=self.name)
            compile_model(model, train, weighted_metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return model

    # ----- metrics -----------------------------------------------------------------------
    def caption(self, model, pixels, batch_size=64):
        """Captions of ``uint8`` images with the model's own in-graph decoder."""
        import tensorflow as tf

        layer = model.get_layer("captioner")
        size = self.config["data"]["image_size"]
        run = tf.function(layer.caption_pixels, autograph=False, input_signature=[
            tf.TensorSpec([None, size, size, 3], tf.uint8)])
        out = []
        for start in range(0, len(pixels), batch_size):
            out += [t.decode("utf-8") for t in run(pixels[start:start + batch_size])[0].numpy()]
        return out

    def nearest_captions(self, model, split):
        """The nearest-caption baseline: for each image of ``split``, a caption of the training
        image whose encoder features are most similar (cosine); of that image's captions, the
        one agreeing most with its others (highest sentence BLEU against them)."""
        import numpy as np
        import sacrebleu
        import tensorflow as tf

        layer = model.get_layer("captioner")
        size = self.config["data"]["image_size"]
        features = tf.function(layer.image_features, autograph=False, input_signature=[
            tf.TensorSpec([None, size, size, 3], tf.uint8)])

        def normalised(pixels):
            rows = [features(pixels[i:i + 128]).numpy() for i in range(0, len(pixels), 128)]
            x = np.concatenate(rows)
            return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

        train, query = normalised(self.pixels["train"]), normalised(self.pixels[split])
        nearest = np.concatenate([np.argmax(query[i:i + 256] @ train.T, axis=1)
                                  for i in range(0, len(query), 256)])
        lowercase = self.config["data"]["lowercase"]
        chosen = {}
        for index in set(nearest.tolist()):
            captions = self.references["train"][index]
            if len(captions) == 1:
                chosen[index] = captions[0]
                continue
            agreement = [sacrebleu.sentence_bleu(
                c, [o for j, o in enumerate(captions) if j != i], lowercase=lowercase).score
                for i, c in enumerate(captions)]
            chosen[index] = captions[int(np.argmax(agreement))]
        return [chosen[i] for i in nearest.tolist()]

    def evaluate(self, model, datasets):
        from seqtasks.metrics import bleu_orders

        lowercase = self.config["data"]["lowercase"]
        references = self.references["test"]
        hypotheses = self.caption(model, self.pixels["test"])
        baseline = self.nearest_captions(model, "test")
        metrics = bleu_orders(hypotheses, references, lowercase=lowercase)
        metrics.update({f"nearest_{k}": v for k, v in
                        bleu_orders(baseline, references, lowercase=lowercase).items()})
        self.samples = list(zip(self.where["test"], hypotheses, baseline, references))[:5]
        metrics["images"] = len(hypotheses)
        return metrics

    def report(self, metrics):
        lines = ["  BLEU      " + "  ".join(f"{n}-gram" for n in range(1, 5)),
                 "  model     " + "  ".join(f"{metrics[f'bleu_{n}']:6.2f}" for n in range(1, 5)),
                 "  nearest   " + "  ".join(f"{metrics[f'nearest_bleu_{n}']:6.2f}"
                                            for n in range(1, 5))]
        for where, hypothesis, baseline, references in getattr(self, "samples", []):
            lines += [f"  image:     {where}", f"  caption:   {hypothesis}",
                      f"  nearest:   {baseline}", f"  reference: {references[0]}"]
        return lines

    # ----- export ------------------------------------------------------------------------
    def inference_model(self, model):
        return model

    def serving_function(self, inference_model):
        import tensorflow as tf

        layer = inference_model.get_layer("captioner")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image")],
                     autograph=False)
        def serve(image):
            return {"caption": layer.caption(image)[0]}

        return serve

    def export_assets(self):
        return {"decode": dict(self.config["decode"]),
                "image_size": self.config["data"]["image_size"]}

    @classmethod
    def read_inputs(cls, items):
        """The bytes of each image file named on the command line (JPEG or PNG)."""
        from seqtasks.data.captions import image_format

        images = []
        for path in items:
            if os.path.isdir(path):
                raise DataError(f"{path}: is a folder, expected a JPEG or PNG image file")
            if image_format(path) is None:
                raise DataError(f"{path}: not a JPEG or PNG image")
            with open(path, "rb") as f:
                images.append(f.read())
        return images

    @classmethod
    def format_prediction(cls, inputs, outputs):
        return [t.decode("utf-8") for t in outputs["caption"]]


def _coco_image_dir(annotations):
    """COCO's layout: ``annotations/captions_train2017.json`` beside ``train2017/``."""
    base = os.path.basename(annotations)
    folder = os.path.dirname(os.path.abspath(annotations))
    if base.startswith("captions_"):
        candidate = os.path.join(os.path.dirname(folder), base[len("captions_"):-len(".json")])
        if os.path.isdir(candidate):
            return candidate
    return folder


def _tokenize(tokenizer, references):
    """Token lists per caption per image."""
    from seqtasks.layers.tokens import tokenize_texts

    tokens = tokenize_texts(tokenizer, [c for captions in references for c in captions])
    out, at = [], 0
    for captions in references:
        out.append(tokens[at:at + len(captions)])
        at += len(captions)
    return out


def augment(image):
    """A random shift of up to 1/8 of the side (edge pixels repeated) and brightness and
    contrast jitter; ``uint8`` in, ``uint8`` out."""
    import tensorflow as tf

    size = tf.shape(image)[0]
    pad = tf.maximum(size // 8, 1)
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
    shifted = tf.image.random_crop(padded, tf.shape(image))
    x = tf.cast(shifted, tf.float32) / 255.0
    x = tf.image.random_brightness(x, 0.1)
    x = tf.image.random_contrast(x, 0.85, 1.15)
    return tf.cast(tf.clip_by_value(x * 255.0 + 0.5, 0.0, 255.0), tf.uint8)
