"""The base class every recipe extends: the skeleton written once.

A recipe keeps what is its own: its configuration keys, how it reads its formats, its
:class:`~seqtasks.recipes.preprocessor.Preprocessor`, its network, its metrics and how it prints
predictions. Reading and splitting, adapting the preprocessor, ``tf.data`` batching, compiling
under the distribution strategy, the inference model and the serving signatures are here.

Lifecycle, as the runner and a notebook use it::

    task = Recipe(config)
    datasets = task.build_datasets()    # reads splits, adapts the preprocessor on train
    model = task.build_model()          # compiled under the distribution strategy
    ...fit...
    task.calibrate(model)               # choices made on validation after training
    scored = task.evaluate(model)       # a Scored, through the signatures the export holds
    endpoints = task.endpoints(model)   # {"serving_default": tf.function, ...}

Test metrics are computed from the outputs of the serving signatures, so ``seqtasks
evaluate`` on the exported SavedModel gives the run's own numbers.
"""

from __future__ import annotations

import inspect
import random
from typing import Any, NamedTuple

from seqtasks import config as config_lib
from seqtasks.errors import ConfigError, DataError

SPLITS = ("train", "validation", "test")


class Example(NamedTuple):
    """One raw example: what the model reads, what it should produce, and where it came from
    (``file:line``, used in error messages)."""

    input: Any
    target: Any
    where: str
    lines: Any = None  # per-position line numbers, where a format has them (CoNLL)


class Recipe:
    """Base class of recipes. Subclasses set the class attributes and implement the hooks
    that raise ``NotImplementedError``."""

    #: Registry key, TOML ``recipe =`` value, module and export directory name.
    name = ""
    #: One line shown by ``seqtasks list``.
    description = ""
    #: Keys this recipe adds to (or re-defaults in) :data:`seqtasks.config.COMMON`; a plain
    #: value instead of a ``Key`` only changes a common key's default.
    schema_extra: dict = {}
    #: :class:`seqtasks.config.Variant` defaults: other defaults where one key has a value.
    variants: tuple = ()
    #: Compile defaults: the loss and whether metrics see the per-token sample weights.
    loss = "sparse_categorical_crossentropy"
    #: Inputs per batch when the signatures run over examples (evaluation, predict).
    inference_batch_size = 64

    @classmethod
    def schema(cls):
        return config_lib.merge_schema(config_lib.COMMON, cls.schema_extra)

    @classmethod
    def default_config(cls, overrides=()):
        """The fully resolved configuration from defaults plus ``section.key=value`` overrides."""
        return config_lib.resolve(cls.schema(), cls.name, (), overrides, cls.variants)

    def __init__(self, config=None):
        self.config = config if config is not None else self.default_config()
        #: Set by :meth:`build_datasets` (or :meth:`adapt`).
        self.preprocessor = None
        self.splits = None
        self.summary = None
        #: One line each about the data that the run goes on with but the user should know
        #: (printed as ``warning: ...`` after the data summary).
        self.warnings = []
        #: ``(model, portable copy, inference model, endpoints)`` of :meth:`deployable`.
        self._deployable = None

    # ----- reading ---------------------------------------------------------------------------
    def builtin_splits(self, seed):
        """``{split: [Example]}`` of the built-in data set used when ``data.train`` is unset."""
        raise NotImplementedError

    def read_file(self, path, split):
        """``[Example]`` read from a file in one of the recipe's formats."""
        raise NotImplementedError

    def tfds_examples(self, rows, info, where):
        """``[Example]`` from the NumPy rows of a TFDS split; ``where`` names the split."""
        raise ConfigError(f"{where}: the {self.name} recipe does not read TFDS datasets")

    def tfds_decoders(self):
        """TFDS ``decoders=`` argument (e.g. to keep image bytes encoded)."""
        return None

    def read_tfds(self, name, split):
        import tensorflow_datasets as tfds

        where = f"tfds:{name}:{split}"
        try:
            dataset, info = tfds.load(name, split=split, with_info=True,
                                      decoders=self.tfds_decoders())
        except Exception as e:  # TFDS raises many types; report one line
            raise DataError(f"{where}: cannot load ({type(e).__name__}: {e})") from None
        return self.tfds_examples(tfds.as_numpy(dataset), info, where)

    def read_source(self, spec, split):
        if isinstance(spec, str) and spec.startswith("tfds:"):
            parts = spec.split(":")
            if len(parts) not in (2, 3) or not parts[1]:
                raise ConfigError(
                    f"data.{split}: expected tfds:<name> or tfds:<name>:<split>, found {spec!r}"
                )
            return self.read_tfds(parts[1], parts[2] if len(parts) == 3 else split)
        return self.read_file(spec, split)

    #: Whether the training split streams from its files (:class:`~seqtasks.data.stream.Stream`,
    #: read again on every pass, never held in memory) or is read into a list (recipes whose
    #: training data is small by nature: forecasting series; and those not streamed yet).
    streams = True
    #: With ``data.cache = "auto"``: training sets up to this many examples are cached in
    #: memory after the first epoch, larger ones on disk.
    memory_cache_limit = 200_000
    #: Training examples measured for the summary's padding figure when the training set is
    #: cached on disk (a pass of its own; the whole set when it is cached in memory).
    summary_examples = 20_000

    def carve(self, examples, fraction, rng):
        """``(carved, rest)``: a held-out share of the training examples (seeded shuffle);
        recipes that do not stream (:attr:`streams`)."""
        examples = list(examples)
        rng.shuffle(examples)
        cut = max(1, int(len(examples) * fraction))
        return examples[:cut], examples[cut:]

    def carve_fraction(self, split):
        """The share of train that :meth:`carve` holds out for a missing ``split``."""
        return self.config["data"]["validation_fraction"]

    def source_files(self, spec, split):
        """What :meth:`read_file` takes, one item per file of ``spec`` (a path, a glob or a
        list of them)."""
        from seqtasks.data.stream import expand_files

        return expand_files(spec, f"data.{split}")

    def source_stream(self, spec, split, carving=None):
        """A :class:`~seqtasks.data.stream.Stream` of the examples ``spec`` names."""
        from seqtasks.data.stream import Stream

        if isinstance(spec, str) and spec.startswith("tfds:"):
            return Stream([spec], lambda s: self.read_source(s, split), carving, f"data.{split}")
        return Stream(self.source_files(spec, split), lambda f: self.read_file(f, split),
                      carving, f"data.{split}")

    def read_examples(self, spec, split):
        """``[Example]`` of a held-out split (every file of ``spec``), in memory."""
        return list(self.source_stream(spec, split))

    def load_splits(self):
        """``{split: examples}``: train, validation and test read (or built in); a missing
        validation or test split is carved from train.

        For recipes that stream (:attr:`streams`) train is a
        :class:`~seqtasks.data.stream.Stream`, and carved splits are filled by its first pass
        (:meth:`adapt`); the held-out splits are lists."""
        data = self.config["data"]
        seed = self.config["train"]["seed"]
        if data["train"] is None:
            self._check_builtin_only()
            splits = self.builtin_splits(seed)
        else:  # in this order: the datasets' random ops take their seeds in it
            splits = {"train": data["train"], **{s: self.read_examples(data[s], s)
                                                for s in ("validation", "test")
                                                if data[s] is not None}}
        missing = [s for s in ("test", "validation") if s not in splits]
        if self.streams:
            from seqtasks.data.stream import Carving, Stream

            carving = (Carving({s: self.carve_fraction(s) for s in missing}, seed,
                               data["carve_limit"]) if missing else None)
            train = splits["train"]
            if data["train"] is None:
                stream = Stream([list(train)], iter, carving, "built-in data")
            else:
                stream = self.source_stream(train, "train", carving)
            splits["train"] = stream
            splits.update(stream.carved)
            return splits
        if data["train"] is not None:
            splits["train"] = self.read_examples(data["train"], "train")
        train = list(splits["train"])
        if not train:
            raise DataError(f"{self.describe('train')}: the training set is empty")
        rng = random.Random(seed)
        for split in missing:
            splits[split], rest = self.carve(train, self.carve_fraction(split), rng)
            if not rest or not splits[split]:
                raise self._too_few(len(train), split)
            train = rest
        splits["train"] = train
        self._check_not_empty(splits)
        return splits

    def _check_builtin_only(self):
        data = self.config["data"]
        if data["validation"] is not None or data["test"] is not None:
            raise ConfigError("data.train: must be set when data.validation or data.test is")

    def _too_few(self, count, split):
        return DataError(f"{self.describe('train')}: {count} examples are too few to carve a "
                         f"{split} split from; give data.{split}")

    def _check_not_empty(self, splits):
        for split in ("validation", "test"):
            if not splits[split]:
                raise DataError(f"{self.describe(split)}: the {split} set is empty")

    def read_split(self, spec, split="test"):
        """``[Example]`` of one file (or TFDS split) scored on its own (``seqtasks evaluate``)."""
        examples = self.read_examples(spec, split)
        if not examples:
            raise DataError(f"{spec}: no examples")
        return examples

    def describe(self, split):
        spec = self.config["data"].get(split)
        return str(spec) if spec is not None else f"data.{split}"

    # ----- data ------------------------------------------------------------------------------
    def make_preprocessor(self):
        """The recipe's :class:`Preprocessor`, configured but not adapted."""
        raise NotImplementedError

    def adapt(self, splits):
        """Adapt a new preprocessor on ``splits['train']`` in one pass over it (which also
        carves the missing held-out splits, counts the examples and their lengths, with
        progress shown); then check the other splits against it."""
        import collections

        from seqtasks.progress import Progress

        preprocessor = self.make_preprocessor()
        train = splits["train"]
        lengths = self.length_counts = collections.Counter()
        progress = Progress(f"reading {self.describe('train')}")

        measure = not getattr(preprocessor, "measures_lengths", False)

        def observed():
            for example in train:
                progress.add()
                if measure:
                    lengths[preprocessor.length(example)] += 1
                yield example

        if isinstance(train, list):  # read into memory (see ``streams``): any number of passes
            preprocessor.adapt(train)
            lengths.update(preprocessor.length(e) for e in train if measure)
        else:
            stream = observed()
            preprocessor.adapt(stream)
            for _ in stream:  # an adapter that stopped early still sees the whole pass
                pass
            progress.done()
        if self.streams:
            self._check_carved(splits)
        if not measure:  # the preprocessor measured the lengths while adapting
            self.length_counts = collections.Counter(dict(preprocessor.length_counts))
        for split in ("validation", "test"):
            self.check_split(preprocessor, splits[split])
        self.preprocessor, self.splits = preprocessor, splits
        return preprocessor

    def _check_carved(self, splits):
        train = splits["train"]
        if not len(train):
            raise DataError(f"{self.describe('train')}: the training set is empty")
        carved = train.carved
        for split, held in carved.items():
            if not held:
                raise self._too_few(len(train) + sum(map(len, carved.values())), split)
        self._check_not_empty(splits)

    def check_split(self, preprocessor, examples):
        """Raise :class:`DataError` (naming the file and line) for a held-out example the
        adapted preprocessor cannot represent (a label never seen in training...)."""
        preprocessor.check(examples)

    def encoded(self, examples):
        """Unbatched ``(x, y[, sample_weight])`` elements of ``examples`` (a list, or a stream
        read in chunks), not cached."""
        import tensorflow as tf

        from seqtasks.data.pipeline import stream_dataset

        p = self.preprocessor

        def raw(chunk):
            return p.raw_inputs(chunk), p.raw_targets(chunk)

        if isinstance(examples, list):
            dataset = tf.data.Dataset.from_tensor_slices(raw(examples))
            return dataset.map(p.encode, num_parallel_calls=tf.data.AUTOTUNE)
        # the structure from the first pass's first examples: nothing is read before the
        # dataset is iterated
        chunked = stream_dataset(examples, raw, probe=examples.head)
        if p.encodes_batches:  # one call per chunk; rows are not cut (see batch())
            return chunked.map(p.encode_batch, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
        return chunked.unbatch().map(p.encode, num_parallel_calls=tf.data.AUTOTUNE)

    def cache_mode(self, split, examples=None):
        """Where ``split``'s encoded ``examples`` (default: the whole split) are kept after
        the first epoch: ``memory``, ``disk`` or ``none`` (``data.cache``, ``auto`` asking
        :meth:`fits_in_memory`; held-out splits: memory)."""
        mode = self.config["data"]["cache"]
        if split != "train":
            return "memory"
        if mode != "auto":
            return mode
        examples = examples if examples is not None else self.splits["train"]
        return "memory" if self.fits_in_memory(examples) else "disk"

    def fits_in_memory(self, examples):
        """Whether ``data.cache = "auto"`` keeps these encoded training examples in memory:
        a list (read into memory already), or at most :attr:`memory_cache_limit` of them."""
        return isinstance(examples, list) or len(examples) <= self.memory_cache_limit

    #: Folder of the on-disk cache (``data.cache = "disk"``); the runner sets it to
    #: ``<run>/cache``, otherwise a temporary folder removed when the process ends.
    cache_dir = None

    def cached(self, dataset, split, examples=None):
        from seqtasks.data.pipeline import disk_cache

        mode = self.cache_mode(split, examples)
        if mode == "memory":
            return dataset.cache()
        if mode == "disk":
            return disk_cache(dataset, self.cache_dir, split)
        return dataset

    def dataset(self, split, examples):
        """Unbatched ``(x, y[, sample_weight])`` elements of ``examples``, cached as
        :meth:`cache_mode` says."""
        return self.cached(self.encoded(examples), split, examples)

    def augment(self, dataset):
        """Training-only transformations of the unbatched elements (word dropout...)."""
        return dataset

    def global_batch_size(self):
        """Examples per training step: ``train.batch_size`` per worker, times the workers of
        a ``multi_worker`` cluster (each trains on its slice of every batch)."""
        from seqtasks.distribute import workers

        train = self.config["train"]
        return train["batch_size"] * workers(train["strategy"])

    def reads_share(self):
        """Whether this process trains on its own share of the training stream: a worker of
        a ``multi_worker`` cluster, for recipes that stream (:attr:`streams`)."""
        from seqtasks.distribute import workers

        return self.streams and workers(self.config["train"]["strategy"]) > 1

    def train_share(self):
        """What this process trains on: the training split, or under ``multi_worker`` its
        worker's share of the stream (whole files when there are enough, else every n-th
        record; see :meth:`~seqtasks.data.stream.Stream.shard`)."""
        from seqtasks.distribute import role

        train = self.splits["train"]
        if not self.reads_share():
            return train
        me = role(self.config["train"]["strategy"])
        return train.shard(me.index, me.workers)

    def steps_per_worker(self):
        """Training steps per epoch when every worker reads its own share: as many as the
        smallest share fills whole batches, the same on every worker (collectives need as
        many steps on each); what a larger share has beyond them waits for a later epoch's
        order."""
        from seqtasks.distribute import workers

        train, size = self.config["train"], self.config["train"]["batch_size"]
        count = workers(train["strategy"])
        smallest = self.splits["train"].smallest_share(count)
        if smallest < size:
            raise DataError(f"{self.describe('train')}: {len(self.splits['train'])} training "
                            f"examples are too few for {count} workers with train.batch_size="
                            f"{size} (the smallest worker's share is {smallest})")
        return smallest // size

    #: Length buckets of the training lengths (see :func:`seqtasks.data.batching`).
    length_buckets = 8

    def batch(self, dataset, split):
        """Batches of the unbatched elements: shuffled (train), length-bucketed, padded.
        A worker reading its own share (:meth:`reads_share`) batches ``train.batch_size``
        of it per step, :meth:`steps_per_worker` steps an epoch; otherwise batches are
        global (:meth:`global_batch_size`), each worker training on its rows of each."""
        from seqtasks.data.batching import batch_sequences, length_boundaries

        train = self.config["train"]
        lengths = getattr(self, "length_counts", None) or {}
        boundaries = (length_boundaries(lengths, buckets=self.length_buckets)
                      if lengths and None not in lengths else None)
        own = split == "train" and self.reads_share()
        p = self.preprocessor
        batches = batch_sequences(dataset, train["batch_size"] if own else self.global_batch_size(),
                                  boundaries=boundaries, bucketing=train["bucketing"],
                                  shuffle_seed=train["seed"] if split == "train" else None,
                                  trim=p.trim_batch if p.encodes_batches else None)
        return self.own_share_batches(batches) if own else batches

    def own_share_batches(self, batches):
        """A worker's batches of its own share: the first :meth:`steps_per_worker` of them;
        the rest are read and dropped (not ``take()``), so that an epoch reads the share to
        its end and its cache is completed."""
        from seqtasks.distribute import per_worker

        steps = self.steps_per_worker()
        return per_worker(batches.enumerate().filter(lambda i, _: i < steps)
                          .map(lambda _, batch: batch).prefetch(-1))

    def data_summary(self, splits, datasets):
        """Facts about the data for the run's summary, beside the split sizes."""
        from seqtasks.data.batching import padded_fraction

        train = datasets["train"]
        if self.cache_mode("train") != "memory":  # measured on the first examples only
            sample = splits["train"].prefix(self.summary_examples)
            train = self.batch(self.encoded(sample), "summary")
        return {"padded_fraction": round(padded_fraction(train), 4)}

    def build_datasets(self, state=None):
        """``{split: tf.data.Dataset}`` of batches; adapts the preprocessor on train, or
        takes it (and what the adaptation pass learned) from ``state``, a :meth:`data_state`
        of the same configuration: a resumed run reads no training data before training."""
        self.warnings = []
        splits = self.load_splits()
        if state is None:
            self.adapt(splits)
        else:
            self.restore_data(splits, state)
        return self._batched(splits)

    def data_state(self):
        """What the adaptation pass learned, for :meth:`build_datasets` to take instead of a
        second pass: JSON-ready, except the carved held-out examples (``"carved"``)."""
        import keras

        train = self.splits["train"]
        return {"preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
                "length_counts": sorted(self.length_counts.items(), key=str),
                "train_examples": len(train), "summary": self.summary,
                "warnings": self.warnings,
                "carving": train.carving.state() if train.carving else None,
                "carved": {s: list(e) for s, e in train.carved.items()},
                "head": list(train.head), "file_counts": list(train.file_counts)}

    def restore_data(self, splits, state):
        import collections

        from seqtasks.data.stream import Carving

        train = splits["train"]
        if state["carving"] is not None:
            train.carving = Carving.from_state(state["carving"])
        train.restore(state["train_examples"], state["carved"], state["head"],
                      state["file_counts"])
        splits.update(train.carved)
        self.length_counts = collections.Counter(
            {length: count for length, count in state["length_counts"]})
        self.preprocessor = self.restored_preprocessor(state)
        self.splits, self.warnings = splits, list(state["warnings"])
        self.restored_summary = state["summary"]

    def restored_preprocessor(self, state):
        """The adapted preprocessor of a :meth:`data_state`."""
        import keras

        kind = type(self.make_preprocessor())  # imports (and registers) its class
        return keras.saving.deserialize_keras_object(state["preprocessor"],
                                                     custom_objects={kind.__name__: kind})

    #: The summary of a run whose data state was restored (see :meth:`restore_data`).
    restored_summary = None

    def _batched(self, splits):
        datasets = {}
        for split, examples in splits.items():
            if split == "train":
                examples = self.train_share()
                if self.cache_mode(split, examples) == "memory":
                    # cached in memory anyway: read into memory once and encoded as before
                    # (training through a from_generator source was measured 1.5-3x slower
                    # per step on small sets, docs/benchmarks.md "Data at any size")
                    examples = list(examples)
            dataset = self.dataset(split, examples)
            if split == "train":
                dataset = self.augment(dataset)
            datasets[split] = self.batch(dataset, split)
        self.summary = self.restored_summary or {
            "examples": {s: len(e) for s, e in splits.items()},
            **self.preprocessor.summary(), **self.data_summary(splits, datasets)}
        return datasets

    # ----- model -----------------------------------------------------------------------------
    def network(self):
        """The trainable Keras model from the preprocessor's outputs to predictions."""
        raise NotImplementedError

    def metrics(self):
        """``(metrics, weighted_metrics)`` compiled into the training model."""
        return (), ()

    def require_preprocessor(self, what):
        if self.preprocessor is None:
            raise RuntimeError(f"{type(self).__name__}.{what}: the preprocessor is not adapted "
                               "yet; call build_datasets() (or adapt(splits)) first")
        return self.preprocessor

    def build_model(self):
        """The training model, built and compiled under ``train.strategy``."""
        from seqtasks.distribute import get_strategy
        from seqtasks.training import compile_model, dtype_policy

        self.require_preprocessor("build_model")
        train = self.config["train"]
        with get_strategy(train["strategy"]).scope(), dtype_policy(train["precision"]):
            model = self.network()
            metrics, weighted = self.metrics()
            compile_model(model, train, metrics=metrics, weighted_metrics=weighted,
                          loss=self.loss)
        return model

    def callbacks(self):
        """Extra Keras callbacks for training (e.g. resetting stateful RNNs)."""
        return []

    def calibrate(self, model):
        """Choices made on the validation split once training is over, before anything is
        evaluated or exported (smart_reply's abstain threshold); returns lines saying what
        was chosen. Nothing by default."""
        return []

    def diagnostic(self, model, datasets):
        """``(forward, inputs, targets)`` for ``seqtasks diagnose``: float ``inputs [batch,
        steps, features]``, ``forward(inputs, training=False)`` the prediction after the last
        step and ``targets`` what the loss compares it with (recipes without one are not
        diagnosable)."""
        raise NotImplementedError

    # ----- inference and export --------------------------------------------------------------
    def inference_model(self, model):
        """Raw inputs -> preprocessor -> :meth:`inference_network`: the ``.keras`` model of the
        export, and what every signature runs. Not for recipes to override."""
        import keras

        signature = self.require_preprocessor("inference_model").input_signature()
        inputs = {name: keras.Input(spec.shape[1:], dtype=spec.dtype.name, name=name)
                  for name, spec in signature.items()}
        x = self.preprocessor(inputs)
        if len(inputs) == 1:
            inputs = next(iter(inputs.values()))
        return keras.Model(inputs, self.inference_network(model)(x), name=f"{self.name}_inference")

    def inference_network(self, model):
        """What runs on the preprocessor's outputs in the inference model (built when a trained
        model is first scored or exported): the trained ``model`` itself by default; a recipe
        that infers differently returns a callable of Keras tensors (a layer that decodes,
        say, or a function of layers)."""
        return model

    def postprocess(self, outputs, inputs):
        """The inference network's outputs -> the ``serving_default`` signature's named outputs
        (strings, scores...), in graph; ``inputs`` are the signature's raw inputs by name."""
        raise NotImplementedError

    def extra_endpoints(self, inference_model):
        """``{name: tf.function}``: signatures exported beside ``serving_default``."""
        return {}

    def endpoints(self, inference_model):
        """``{name: tf.function}`` with named input signatures; ``serving_default`` is built
        from the preprocessor's :meth:`input_signature`."""
        import tensorflow as tf

        signature = self.require_preprocessor("endpoints").input_signature()
        names = list(signature)

        def serve(*args, **kwargs):  # the one serving path: preprocessor, network, postprocess
            inputs = {**dict(zip(names, args)), **kwargs}
            feed = inputs if len(inputs) > 1 else next(iter(inputs.values()))
            return self.postprocess(inference_model(feed), inputs)

        # the signature's inputs are called by name (TF Serving, saved_model_cli)
        serve.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
        serve.__name__ = "serving_default"
        function = tf.function(serve, input_signature=[signature[n] for n in names],
                               autograph=False)
        return {"serving_default": function, **self.extra_endpoints(inference_model)}

    def deployable(self, model):
        """``(inference model, endpoints)`` of a trained ``model``: what evaluation scores and
        the export writes. Built and traced once per model (a portable copy, see
        :func:`seqtasks.export.portable`); later calls copy in ``model``'s current weights."""
        from seqtasks import export

        if self._deployable is None or self._deployable[0] is not model:
            copy = export.portable(model)
            inference = self.inference_model(copy)
            self._deployable = (model, copy, inference, self.endpoints(inference))
        else:
            self._deployable[1].set_weights(model.get_weights())
        return self._deployable[2:]

    def export_assets(self):
        """Facts written into the export's ``seqtasks.json`` and handed to :meth:`score`."""
        return {}

    # ----- scoring ---------------------------------------------------------------------------
    def evaluate(self, model):
        """The :class:`~seqtasks.scoring.Scored` test split of ``model``, computed through the
        serving signatures, exactly as ``seqtasks evaluate`` computes it from the export."""
        return self.score(self.deployable(model)[1], self.splits["test"], self.export_assets())

    def score(self, signatures, examples, metadata):
        """A :class:`~seqtasks.scoring.Scored` of ``examples`` from the outputs of
        ``signatures`` (a ``{name: callable}`` mapping: in-memory functions or a loaded
        SavedModel's) and the export's ``metadata`` (:meth:`export_assets`). Runs after
        training on the test split, and in ``seqtasks evaluate`` on any file; it reads
        nothing but its arguments."""
        raise NotImplementedError

    def raw_inputs(self, examples):
        """``{name: values}`` the serving signature takes for ``examples``."""
        return self.make_preprocessor().raw_inputs(examples)

    def run_signature(self, signature, examples, batch_size=None, raw=None):
        """``{output: [row, ...]}`` of ``signature`` run over ``examples`` in batches (rows are
        NumPy values; outputs padded per batch keep each batch's padding). ``raw``:
        ``{name: values}`` fed instead of :meth:`raw_inputs` (a signature with other inputs)."""
        from seqtasks.signatures import call_signature

        batch_size = batch_size or self.inference_batch_size
        raw = raw if raw is not None else self.raw_inputs(examples)
        rows = {}
        for start in range(0, len(examples), batch_size):
            batch = {name: values[start:start + batch_size] for name, values in raw.items()}
            for name, value in call_signature(signature, batch).items():
                rows.setdefault(name, []).extend(list(value))
        return rows

    def report(self, scored):
        """Lines printed after the metrics of a :class:`~seqtasks.scoring.Scored` (by
        ``seqtasks run`` and ``seqtasks evaluate`` alike): its samples by default."""
        from seqtasks.scoring import sample_lines

        return sample_lines(scored.samples)

    def write_artifacts(self, folder, scored):
        """Files (plots) written into ``folder`` (the run directory, or ``seqtasks evaluate
        --output``) from a :class:`~seqtasks.scoring.Scored`; returns their paths."""
        return []

    # ----- predict ---------------------------------------------------------------------------
    def prediction_inputs(self, path):
        """Yield ``(where, {name: value})``: the raw signature inputs of each input in a file
        of one of the recipe's formats, for ``seqtasks predict --input``. Recipes whose
        readers can stream override this so that a large file is never held in memory; the
        default reads the file whole."""
        examples = self.read_file(path, "input")
        raw = self.raw_inputs(examples)
        for i, example in enumerate(examples):
            yield example.where, {name: values[i] for name, values in raw.items()}

    @classmethod
    def read_inputs(cls, items):
        """The values ``seqtasks predict`` feeds the signature for its arguments (or stdin
        lines): the texts themselves by default; a recipe taking files reads them here."""
        return list(items)

    @classmethod
    def format_prediction(cls, inputs, outputs):
        """Lines that ``seqtasks predict`` prints for one batch of signature outputs."""
        raise NotImplementedError
