"""The base class every recipe extends: the skeleton written once.

A recipe keeps what is its own: its configuration keys, its
:class:`~seqtasks.recipes.reader.Reader` (formats, built-in data, predict I/O), its
:class:`~seqtasks.recipes.preprocessor.Preprocessor`, its network and its metrics, through the
:attr:`Recipe.hooks` it overrides. Adapting the preprocessor, ``tf.data`` caching and batching,
compiling under the distribution strategy, the inference model and the serving signatures are
here.

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
from typing import NamedTuple

from seqtasks import config as config_lib
from seqtasks.errors import DataError, TrainingSetError

SPLITS = ("train", "validation", "test")


class Example(NamedTuple):
    """One raw example: what the model reads, what it should produce, and where it came from
    (``file:line``, used in error messages)."""

    input: object
    target: object
    where: str
    lines: object = None  # per-position line numbers, where a format has them (CoNLL)


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
    #: The :class:`~seqtasks.recipes.reader.Reader` subclass that reads the recipe's data.
    reader_cls = None
    #: The export's signatures as documented: ``{name: (inputs, outputs)}``, each
    #: ``{key: "dtype [shape]: meaning"}``.
    documented_signatures: dict = {}
    #: The methods a recipe may override (the rest is written once, here): each keeps the
    #: signature it has here, and its docstring says when it runs.
    hooks = ("make_preprocessor", "dataset", "batch", "data_summary", "network", "metrics",
             "callbacks", "calibrate", "diagnostic", "inference_network", "postprocess",
             "extra_endpoints", "export_assets", "score", "report")

    @property
    def warnings(self):
        """One line each about the data that the run goes on with but the user should know
        (printed as ``warning: ...`` after the data summary)."""
        return self.reader.warnings

    @warnings.setter
    def warnings(self, lines):
        self.reader.warnings = list(lines)

    @classmethod
    def schema(cls):
        return config_lib.merge_schema(config_lib.COMMON, cls.schema_extra)

    @classmethod
    def default_config(cls, overrides=()):
        """The fully resolved configuration from defaults plus ``section.key=value`` overrides."""
        return config_lib.resolve(cls.schema(), cls.name, (), overrides, cls.variants)

    def __init__(self, config=None):
        self.config = config if config is not None else self.default_config()
        #: The recipe's :class:`~seqtasks.recipes.reader.Reader`: where its examples come from.
        self.reader = self.reader_cls(self.config, self.name)
        #: Set by :meth:`build_datasets` (or :meth:`adapt`).
        self.preprocessor = None
        self.splits = None
        self.summary = None
        #: ``(model, portable copy, inference model, endpoints)`` of :meth:`deployable`.
        self._deployable = None

    #: With ``data.cache = "auto"``: training sets up to this many examples are cached in
    #: memory after the first epoch, larger ones on disk.
    memory_cache_limit = 200_000
    #: Training examples measured for the summary's padding figure when the training set is
    #: cached on disk (a pass of its own; the whole set when it is cached in memory).
    summary_examples = 20_000

    # ----- data ------------------------------------------------------------------------------
    def make_preprocessor(self):
        """The recipe's :class:`~seqtasks.recipes.preprocessor.Preprocessor`, configured but
        not adapted. Runs at the start of the adaptation pass (:meth:`build_datasets`)."""
        raise NotImplementedError

    def adapt(self, splits):
        """Adapt a new preprocessor on ``splits['train']`` in one pass over it (the reader's
        :meth:`~seqtasks.recipes.reader.Reader.adapt`, which also fills the held-out splits
        it carves), counting the examples and their lengths with progress shown; then check
        the other splits against it."""
        import collections

        from seqtasks.progress import Progress

        preprocessor = self.make_preprocessor()
        train = splits["train"]
        lengths = self.length_counts = collections.Counter()
        progress = Progress(f"reading {self.reader.describe('train')}", unit=self.reader.unit)
        measure = not getattr(preprocessor, "measures_lengths", False)

        def observed(examples):
            for example in examples:
                progress.add()
                if measure:
                    lengths[preprocessor.length(example)] += 1
                yield example

        if isinstance(train, list):  # read into memory (see ``streams``): any number of passes
            preprocessor.adapt(train)
            lengths.update(preprocessor.length(e) for e in train if measure)
        else:
            try:
                self.reader.adapt(splits, preprocessor, observed)
            except TrainingSetError as e:
                raise DataError(f"{self.reader.describe('train')}: {e}") from None
            progress.done()
        if not measure:  # the preprocessor measured the lengths while adapting
            self.length_counts = collections.Counter(dict(preprocessor.length_counts))
        for split in ("validation", "test"):  # raises, or warns of what is scored anyway
            self.warnings += preprocessor.check(splits[split])
        self.preprocessor, self.splits = preprocessor, splits
        return preprocessor

    def encoded(self, examples):
        """Unbatched ``(x, y[, sample_weight])`` elements of ``examples`` (a list, or a stream
        read in chunks), not cached."""
        import tensorflow as tf

        from seqtasks.data.pipeline import stream_dataset

        p = self.preprocessor

        def raw(chunk):
            return self.reader.raw_inputs(chunk), p.raw_targets(chunk)

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

    #: With ``data.cache = "auto"``: encoded training examples whose preprocessor gives their
    #: size (``example_bytes``: decoded images) are kept in memory up to this many bytes.
    memory_cache_bytes = 2 * 2**30

    def fits_in_memory(self, examples):
        """Whether ``data.cache = "auto"`` keeps these encoded training examples in memory:
        at most :attr:`memory_cache_bytes` of them where the preprocessor knows their size
        (8,000 images of 128 px take 393 MB); otherwise a list (read into memory already),
        or at most :attr:`memory_cache_limit` examples."""
        size = getattr(self.preprocessor, "example_bytes", None)
        if size is not None:
            return len(examples) * size <= self.memory_cache_bytes
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
        """Unbatched ``(x, y[, sample_weight])`` elements of ``split``'s ``examples``, cached
        as :meth:`cache_mode` says; training-only changes (word dropout, augmentation) go here
        for ``split == "train"``. Runs once per split in :meth:`build_datasets`."""
        return self.cached(self.encoded(examples), split, examples)

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

        return self.reader.streams and workers(self.config["train"]["strategy"]) > 1

    def train_share(self):
        """What this process trains on: the training split, or under ``multi_worker`` its
        worker's share of the stream (whole files when there are enough, else every n-th
        record; see :meth:`~seqtasks.data.stream.Stream.shard`)."""
        from seqtasks.distribute import role

        train = self.splits["train"]
        if not self.reads_share() or not self.reader.shards:
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
            raise DataError(f"{self.reader.describe('train')}: {len(self.splits['train'])} "
                            f"training examples are too few for {count} workers with "
                            f"train.batch_size={size} (the smallest worker's share is "
                            f"{smallest})")
        return smallest // size

    #: Length buckets of the training lengths (see :func:`seqtasks.data.batching`).
    length_buckets = 8

    def batch(self, dataset, split):
        """Batches of the unbatched elements: shuffled (train), length-bucketed, padded.
        A worker reading its own share (:meth:`reads_share`) batches ``train.batch_size``
        of it per step, :meth:`steps_per_worker` steps an epoch; otherwise batches are
        global (:meth:`global_batch_size`), each worker training on its rows of each. Runs
        once per split in :meth:`build_datasets`, after :meth:`dataset`."""
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
        """Facts about the data for the run's summary, beside the split sizes and the
        preprocessor's own; runs at the end of :meth:`build_datasets` (not on a resumed run,
        which takes the summary it saved)."""
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
        import collections

        self.warnings = []
        if state is not None:  # what reading learned, known before any split is read
            self.reader.restore(state["reader"])
        splits = self.reader.splits()
        if state is None:
            self.adapt(splits)
        else:
            self.length_counts = collections.Counter(dict(state["length_counts"]))
            self.preprocessor = self.restored_preprocessor(state)
            self.splits, self.warnings = splits, list(state["warnings"])
            self.restored_summary = state["summary"]
        return self._batched(splits)

    def data_state(self):
        """What the adaptation pass learned, for :meth:`build_datasets` to take instead of a
        second pass (pickled; the reader's part holds the carved held-out examples)."""
        import keras

        return {"preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
                "length_counts": sorted(self.length_counts.items(), key=str),
                "summary": self.summary, "warnings": self.warnings,
                "reader": self.reader.state()}

    def restored_preprocessor(self, state):
        """The adapted preprocessor of a :meth:`data_state`."""
        import importlib

        import keras

        importlib.import_module(f"seqtasks.recipes.{self.name}.preprocessor")  # registers it
        return keras.saving.deserialize_keras_object(state["preprocessor"])

    #: The summary of a run whose data state was restored (see :meth:`build_datasets`).
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
            datasets[split] = self.batch(dataset, split)
        self.summary = self.restored_summary or {
            "examples": {s: len(e) for s, e in splits.items()},
            **self.preprocessor.summary(), **self.data_summary(splits, datasets)}
        return datasets

    # ----- model -----------------------------------------------------------------------------
    def network(self):
        """The trainable Keras model from the preprocessor's outputs to predictions; runs in
        :meth:`build_model`, under the distribution strategy, after the adaptation pass."""
        raise NotImplementedError

    def metrics(self):
        """``(metrics, weighted_metrics)`` compiled into the training model; runs in
        :meth:`build_model`."""
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
        """Extra Keras callbacks for training (e.g. resetting stateful RNNs); runs when the
        runner starts training."""
        return []

    def calibrate(self, model):
        """Choices made on the validation split (smart_reply's abstain threshold); runs once
        training is over, before anything is evaluated or exported. Returns lines saying
        what was chosen; nothing by default."""
        return []

    def diagnostic(self, model, datasets):
        """``(forward, inputs, targets)`` for ``seqtasks diagnose``: float ``inputs [batch,
        steps, features]``, ``forward(inputs, training=False)`` the prediction after the last
        step and ``targets`` what the loss compares it with (recipes without one are not
        diagnosable). Runs in ``seqtasks diagnose`` on a trained model."""
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
        say, or a function of layers). Runs once per trained model, in :meth:`deployable`."""
        return model

    def postprocess(self, outputs, inputs):
        """The inference network's outputs -> the ``serving_default`` signature's named outputs
        (strings, scores...), in graph; ``inputs`` are the signature's raw inputs by name.
        Runs while the ``serving_default`` function is traced (:meth:`endpoints`)."""
        raise NotImplementedError

    def extra_endpoints(self, inference_model):
        """``{name: tf.function}``: signatures exported beside ``serving_default``; runs once
        per trained model, in :meth:`endpoints`."""
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
        """Facts written into the export's ``seqtasks.json`` (NumPy arrays: ``.npy`` files in
        ``assets.extra``) and handed to :meth:`score`; runs when a trained model is evaluated
        and when it is exported."""
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

    def run_signature(self, signature, examples, batch_size=None, raw=None):
        """``{output: [row, ...]}`` of ``signature`` run over ``examples`` in batches (rows are
        NumPy values; outputs padded per batch keep each batch's padding). ``raw``:
        ``{name: values}`` fed instead of the reader's ``raw_inputs`` (a signature with other
        inputs)."""
        from seqtasks.signatures import call_signature

        batch_size = batch_size or self.inference_batch_size
        raw = raw if raw is not None else self.reader.raw_inputs(examples)
        rows = {}
        for start in range(0, len(examples), batch_size):
            batch = {name: values[start:start + batch_size] for name, values in raw.items()}
            for name, value in call_signature(signature, batch).items():
                rows.setdefault(name, []).extend(list(value))
        return rows

    def report(self, scored):
        """Lines printed after the metrics of a :class:`~seqtasks.scoring.Scored` (by
        ``seqtasks run`` and ``seqtasks evaluate`` alike: it runs after :meth:`score`): its
        samples by default."""
        from seqtasks.scoring import sample_lines

        return sample_lines(scored.samples)

    def write_artifacts(self, folder, scored):
        """The figures of a :class:`~seqtasks.scoring.Scored` drawn into ``folder`` (the run
        directory, or ``seqtasks evaluate --output``); returns their paths."""
        return [draw(folder / name) for name, draw in scored.figures.items()]
