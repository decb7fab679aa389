"""captioning: one-to-many. An image -> a caption describing it.

JPEG/PNG bytes -> :class:`~seqtasks.recipes.captioning.preprocessor.CaptioningPreprocessor` (pixels)
-> :class:`~seqtasks.layers.Captioner`: an image encoder (a small CNN, or a keras.applications
backbone) whose feature grid starts (and, with attention, is read by) translation's Elman
:class:`~seqtasks.layers.TextDecoder`. The export's ``features`` signature (the encoder's
flattened features) lets :meth:`Captioning.score` find the nearest-caption baseline. A corrupt
image stops a run with its name (``data.corrupt_images = "error"``) or is left out and counted.
"""


from seqtasks.config import (
    Key,
    Unsupported,
    decode_section,
    fraction,
    positive,
    subword_keys,
    tokenizer_key,
)
from seqtasks.errors import ConfigError
from seqtasks.recipes import register
from seqtasks.recipes.base import SPLITS, Recipe
from seqtasks.recipes.captioning import data as captions
from seqtasks.recipes.captioning.data import CaptioningReader

_ENCODERS = ("cnn", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
             "efficientnetv2_b0")


@register
class Captioning(Recipe):
    """One-to-many: an image -> a caption. An image encoder (a small CNN or a keras.applications
    backbone) starts, and with attention is read by, an Elman text decoder; beam or greedy
    search in the export. Test metrics: BLEU-1..4 beside the nearest-caption baseline.

    Example: ``seqtasks.run("captioning", {"model.attention": "luong"})``."""
    name = "captioning"
    description = "one-to-many: an image -> a caption (image encoder + Elman decoder)"
    schema_extra = {
        "data": {
            "image_dir": Key(None, (str,), "folder of the images; default: <captions dir>/Images "
                             "(Flickr8k) or, for COCO, <annotations dir>/../<split>2014|2017 "
                             "as named by the file, else the captions file's folder"),
            **{f"{s}_images": Key(None, (str,), f"Flickr8k: file listing the {s} images, one "
                                  f"per line (e.g. Flickr_8k.{'dev' if s == 'validation' else s}"
                                  "Images.txt)") for s in SPLITS},
            "image_size": positive(64, "images are resized to this many pixels square"),
            "augment": Key(False, (bool,), "training images: random shifts of up to 1/8 and "
                           "brightness/contrast jitter (never flips: captions say left/right)"),
            "corrupt_images": Key("error", (str,), "an image that does not decode: stop with "
                                  "its name, or skip it and count it", ("error", "skip")),
            "lowercase": Key(True, (bool,), "lowercase the captions"),
            "split_punctuation": Key(True, (bool,), "make punctuation at word edges a token"),
            "tokenizer": tokenizer_key("word", "caption tokens"),
            **subword_keys(2000),
            "max_tokens": positive(10000, "largest caption vocabulary, special tokens included"),
            "min_count": positive(5, "words seen fewer times in training captions are unknown"),
            "max_length": positive(40, "training captions longer than this many tokens are "
                                   "left out (counted in the data summary)"),
        },
        "model": {
            "encoder": Key("cnn", (str,), "image encoder: a small CNN trained from scratch, or "
                           "a keras.applications backbone", _ENCODERS),
            "encoder_weights": Key(None, (str,), "'imagenet' (downloaded), a weights file or "
                                   "'none'; default: imagenet for backbones, none for cnn"),
            "train_encoder": Key(True, (bool,), "train (fine-tune) the encoder; false freezes it"),
            "attention": Key("bahdanau", (str,), "attention over the image's feature grid "
                             "(Show, Attend and Tell); none: the image only sets the initial "
                             "state (Show and Tell)", ("bahdanau", "luong", "none")),
            "units": 256,
            "embedding_dim": 128,
            "hidden_units": 256,
            "dropout": fraction(0.3, "dropout on image features, embeddings, recurrent inputs "
                                "and the head"),
            "layers": Unsupported("the caption decoder is one recurrent layer"),
            "bidirectional": Unsupported("a caption is generated left to right"),
        },
        "train": {
            "epochs": 30,
            "batch_size": positive(32, "images per batch (each with all its captions)"),
            "early_stopping_patience": 4,
            "reduce_lr_patience": 2,
            "bucketing": Unsupported("an image is batched with all its captions, padded to the "
                                     "longest in the batch"),
        },
        "decode": decode_section(beam_width=3, max_length=40),
    }
    #: The nearest-caption baseline searches the images of the first this many training
    #: examples, as many as fit in :attr:`nearest_pool_bytes` of float16 features: they
    #: travel in the export (``assets.extra/nearest_*.npy``), with their captions, so that
    #: ``seqtasks evaluate`` needs nothing but the export and the file.
    nearest_pool = 50_000
    nearest_pool_bytes = 256 * 2**20
    reader_cls = CaptioningReader
    #: The export's signatures: ``{name: (inputs, outputs)}``, each ``{key: "dtype [shape]:
    #: meaning"}`` (checked against the export by the contract test; shown in the reference).
    documented_signatures = {
        "serving_default": ({"image": "string [batch]: JPEG or PNG bytes"},
                            {"caption": "string [batch]: the captions"}),
        "features": ({"image": "string [batch]: JPEG or PNG bytes"},
                     {"features": "float32 [batch, features]: the image encoder's flattened "
                                  "features (the nearest-caption baseline)"})}
    #: ``(encoder weights digest, arrays)`` of :meth:`nearest_pool_arrays`.
    _nearest = None


    # ----- data --------------------------------------------------------------------------
    def make_preprocessor(self):
        from seqtasks.recipes.captioning.preprocessor import CaptioningPreprocessor

        data = self.config["data"]
        return CaptioningPreprocessor(
            data["image_size"], data["lowercase"], data["split_punctuation"],
            data["max_tokens"], data["min_count"], data["max_length"],
            tokenizer=data["tokenizer"], subwords=(data["subword_vocab_size"],
                                                   data["subword_type"]), name="preprocessor")

    def dataset(self, split, examples):
        """Images with all their captions (in training: those of at most ``data.max_length``
        tokens), decoded and cached; training images shuffled every epoch, and shifted and
        jittered if ``data.augment``."""
        import tensorflow as tf

        from seqtasks.data.batching import shuffle_every_epoch
        from seqtasks.layers.images import augment_image

        p = self.preprocessor
        targets = p.training_targets if split == "train" else p.raw_targets
        if isinstance(examples, list):
            data = tf.data.Dataset.zip(captions.image_dataset(examples),
                                       tf.data.Dataset.from_tensor_slices(targets(examples)))
        else:  # a stream, read a chunk at a time
            data = captions.image_stream(examples, targets)
        data = self.cached(data.map(lambda image, ids: p.encode({"image": image}, ids),
                                    num_parallel_calls=tf.data.AUTOTUNE), split, examples)
        if split != "train":
            return data
        size = self.config["data"]["image_size"]
        buffer = min(len(self.splits["train"]), max(1024, self.shuffle_bytes // (3 * size**2)))
        data = shuffle_every_epoch(data, buffer, self.config["train"]["seed"])
        if not self.config["data"]["augment"]:
            return data
        return data.map(lambda x, y, w: ((augment_image(x[0]), x[1]), y, w),
                        num_parallel_calls=-1)

    #: Most bytes of decoded images in the training shuffle buffer (a buffer of the whole
    #: training set up to that size: 8,000 images of 128 px take 393 MB).
    shuffle_bytes = 2**30

    def batch(self, dataset, split):
        """Images with all their captions, padded; a worker reading its own share batches
        ``train.batch_size`` of it (see :meth:`Recipe.batch`)."""
        own = split == "train" and self.reads_share()
        size = self.config["train"]["batch_size"] if own else self.global_batch_size()
        batches = dataset.padded_batch(size).prefetch(-1)
        return self.own_share_batches(batches) if own else batches

    def data_summary(self, splits, datasets):
        p, skipped = self.preprocessor, captions.skipped_summary(self.reader.skipped)
        counts = {s: sum(len(e.target) for e in examples) for s, examples in splits.items()
                  if s != "train"}
        return {"images": {s: len(e) for s, e in splits.items()},
                "captions": {"train": p.caption_count - p.left_out, **counts},
                **({"skipped_corrupt_images": skipped} if skipped else {})}

    # ----- model -------------------------------------------------------------------------
    def network(self):
        import keras

        from seqtasks.layers import Captioner
        from seqtasks.layers.images import encoder_weights

        model, size = self.config["model"], self.preprocessor.image_size
        weights = encoder_weights(model["encoder"], model["encoder_weights"], size)
        options = {k: model[k] for k in ("encoder", "train_encoder", "cell", "units",
                                         "embedding_dim", "attention", "hidden_units", "dropout")}
        images = keras.Input((size, size, 3), dtype="uint8", name="images")
        captions_in = keras.Input((None, None), dtype="int32", name="captions_in")
        try:
            captioner = Captioner(self.preprocessor.vocabulary, self.preprocessor.tokenizer_config,
                                  size, encoder_weights=weights,
                                  decoding=dict(self.config["decode"]), name="captioner",
                                  **options)
        except Exception as e:  # downloading or loading backbone weights
            if weights is None:
                raise
            first = (str(e).splitlines() or [""])[0]
            raise ConfigError(f"model.encoder_weights={weights}: cannot load the weights of "
                              f"{model['encoder']} ({type(e).__name__}: {first}); give a local "
                              "weights file or 'none'") from None
        return keras.Model([images, captions_in], captioner([images, captions_in]),
                           name=self.name)

    def metrics(self):
        import keras

        return (), [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    # ----- export and metrics ------------------------------------------------------------
    def inference_network(self, model):
        """The model's :class:`Captioner` on pixels: generates the captions."""
        from seqtasks.layers import Captioner

        captioner = next(layer for layer in model.layers if isinstance(layer, Captioner))
        return lambda pixels: captioner(pixels)[0]

    def postprocess(self, outputs, inputs):
        return {"caption": outputs}

    def extra_endpoints(self, inference_model):
        """``features``: image bytes -> the encoder's flattened features (nearest captions)."""
        import tensorflow as tf

        from seqtasks.layers import Captioner
        from seqtasks.recipes.captioning.preprocessor import CaptioningPreprocessor as Preprocessor

        layers = {type(layer): layer for layer in inference_model.layers}
        self._features = (layers[Captioner].image_encoder, tf.function(
            lambda image: {"features": layers[Captioner].image_features(
                layers[Preprocessor]({"image": image}))},
            autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name="image")]))
        return {"features": self._features[1]}

    def export_assets(self):
        return {"decode": dict(self.config["decode"]),
                "image_size": self.config["data"]["image_size"],
                **self.nearest_pool_arrays()}

    def nearest_pool_arrays(self):
        """The nearest-caption baseline's search pool from the training split, with the
        current weights (computed once per weights of the image encoder):
        ``nearest_features`` (float16, L2-normalised), ``nearest_captions`` (every caption of
        those images, in order) and ``nearest_counts`` (captions per image)."""
        import hashlib

        import numpy as np

        encoder, features = self._features  # set when the endpoints were built
        digest = hashlib.sha1(b"".join(np.asarray(w).tobytes() for w in encoder.weights))
        if self._nearest is None or self._nearest[0] != digest.hexdigest():
            self._nearest = (digest.hexdigest(), self._pool(features, self.splits["train"]))
        return self._nearest[1]

    def _pool(self, features, train):
        import itertools

        import numpy as np

        train, rows, texts = iter(train), [], []
        while len(rows) < self.nearest_pool:
            chunk = list(itertools.islice(train, min(128, self.nearest_pool - len(rows))))
            if not chunk:
                break
            found = self.run_signature(features, chunk, 128)["features"]
            room = max(self.nearest_pool_bytes // (2 * found[0].size) - len(rows), 0)
            rows += found[:room]
            texts += [e.target for e in chunk[:room]]
            if room < len(chunk):
                break
        return {"nearest_features": captions.normalised(rows).astype(np.float16),
                "nearest_captions": np.array([c for caps in texts for c in caps], dtype=str),
                "nearest_counts": np.array([len(caps) for caps in texts], np.int32)}

    def nearest_captions(self, signatures, examples, metadata):
        """The nearest-caption baseline of ``examples`` (see
        :func:`.data.nearest_captions`): their ``features`` signature against the export's pool."""
        import numpy as np

        if "nearest_features" not in metadata:  # an export made before the pool travelled in it
            metadata = self._pool(signatures["features"], self.reader.splits()["train"])
        grouped = np.split(metadata["nearest_captions"],
                           np.cumsum(metadata["nearest_counts"])[:-1])
        return captions.nearest_captions(
            metadata["nearest_features"].astype(np.float32),
            self.run_signature(signatures["features"], examples, 128)["features"],
            [[str(c) for c in caps] for caps in grouped], self.config["data"]["lowercase"])

    def score(self, signatures, examples, metadata):
        from seqtasks.metrics import bleu_orders
        from seqtasks.scoring import Scored

        lowercase = self.config["data"]["lowercase"]
        references = [e.target for e in examples]
        hypotheses = [c.decode("utf-8") for c in
                      self.run_signature(signatures["serving_default"], examples)["caption"]]
        baseline = self.nearest_captions(signatures, examples, metadata)
        metrics = bleu_orders(hypotheses, references, lowercase=lowercase)
        metrics.update({f"nearest_{k}": v for k, v in
                        bleu_orders(baseline, references, lowercase=lowercase).items()})
        metrics["images"] = len(hypotheses)
        return Scored(metrics, predictions=hypotheses, samples=[
            {"image": e.input if isinstance(e.input, str) else e.where, "caption": hypothesis,
             "nearest": nearest, "reference": e.target[0]}
            for e, hypothesis, nearest in zip(examples[:5], hypotheses, baseline)])

    def report(self, scored):
        metrics = scored.metrics
        return ["  BLEU      " + "  ".join(f"{n}-gram" for n in range(1, 5)),
                "  model     " + "  ".join(f"{metrics[f'bleu_{n}']:6.2f}" for n in range(1, 5)),
                "  nearest   " + "  ".join(f"{metrics[f'nearest_bleu_{n}']:6.2f}"
                                           for n in range(1, 5)),
                *super().report(scored)]
