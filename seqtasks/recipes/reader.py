"""The base class of a recipe's readers: where its examples come from and how they are split.

A recipe's :class:`Reader` (in its ``data.py``) turns what a user points ``data.*`` at (files in
the recipe's formats, ``tfds:<name>``, or nothing: the built-in data) into
:class:`~seqtasks.recipes.base.Example` s, and the files ``seqtasks predict --input`` reads into
the serving signature's raw inputs. Splitting (carving missing held-out splits from a training
stream), the checks on empty or too small splits and their error messages are written here once.

A recipe's reader implements :meth:`builtin`, :meth:`read_file`, :meth:`raw_inputs` and
:meth:`format_prediction`, and may override the rest of :attr:`Reader.hooks`; each docstring
says when it runs.
"""

from __future__ import annotations

from seqtasks.errors import ConfigError, DataError


class Reader:
    """Reads one recipe's data, as its :attr:`~seqtasks.recipes.base.Recipe.reader_cls`."""

    #: The methods a reader may override, keeping their signatures.
    hooks = ("builtin", "read_file", "tfds_examples", "tfds_decoders", "raw_inputs",
             "prediction_inputs", "read_inputs", "format_prediction", "files", "stream",
             "read_examples", "carve_fraction", "splits", "adapt", "state", "restore")

    #: Whether the training split streams from its files (:class:`~seqtasks.data.stream.Stream`,
    #: read again on every pass, never held in memory) or is read into a list (forecasting's
    #: series, small by nature).
    streams = True
    #: Whether a worker of a ``multi_worker`` cluster trains on a shard of the training
    #: stream (whole files, or every n-th record); otherwise the recipe's dataset takes it.
    shards = True
    #: What the adaptation pass's progress counts.
    unit = "examples"

    def __init__(self, config, recipe):
        self.config, self.recipe = config, recipe
        #: One line each about the data that the run goes on with but the user should know.
        self.warnings = []
        #: The training split :meth:`splits` made last, and a :meth:`state` to restore.
        self.train, self.restored = None, None

    # ----- hooks -------------------------------------------------------------------------------
    def builtin(self, seed):
        """``{split: [Example]}`` of the built-in data set (``data.train`` unset); runs when a
        run's splits are read."""
        raise NotImplementedError

    def read_file(self, path, split):
        """The ``Example`` s of one file in one of the recipe's formats (an iterable, read as it
        is taken where the format allows); runs for every file of every split on every pass."""
        raise NotImplementedError

    def tfds_examples(self, rows, info, where):
        """``Example`` s from the NumPy rows of a TFDS split (``where`` names it); runs when a
        ``data.*`` key is ``tfds:<name>``."""
        raise ConfigError(f"{where}: the {self.recipe} recipe does not read TFDS datasets")

    def tfds_decoders(self):
        """TFDS ``decoders=`` argument (e.g. to keep image bytes encoded); runs before a TFDS
        split is loaded."""
        return None

    def raw_inputs(self, examples):
        """``{name: values}``: what the serving signature takes for ``examples``; runs when
        examples are encoded for training and when they are scored through the signatures."""
        raise NotImplementedError

    def prediction_inputs(self, path):
        """Yield ``(where, {name: value})``: the raw signature inputs of each input in a file,
        for ``seqtasks predict --input``; runs as the file is read. Readers whose formats
        stream override this so that a large file is never held in memory; the default reads
        the file whole."""
        examples = list(self.read_file(path, "input"))
        raw = self.raw_inputs(examples)
        for i, example in enumerate(examples):
            yield example.where, {name: values[i] for name, values in raw.items()}

    def read_inputs(self, items):
        """The values ``seqtasks predict`` feeds the signature for its arguments (or stdin
        lines): the texts themselves by default; a recipe taking files reads them here. Runs
        before TensorFlow is loaded, so unreadable inputs fail fast."""
        return list(items)

    def format_prediction(self, inputs, outputs):
        """Lines that ``seqtasks predict`` prints for one batch of signature outputs; runs
        after each batch."""
        raise NotImplementedError

    def files(self, spec, split):
        """What :meth:`read_file` takes, one item per file of ``spec`` (a path, a glob or a
        list of them); runs when a split's stream is made."""
        from seqtasks.data.stream import expand_files

        return expand_files(spec, f"data.{split}")

    def stream(self, spec, split, carving=None):
        """A :class:`~seqtasks.data.stream.Stream` of the examples ``spec`` names; runs when
        :meth:`splits` (or :meth:`read_examples`) reads a split."""
        from seqtasks.data.stream import Stream

        if isinstance(spec, str) and spec.startswith("tfds:"):
            return Stream([spec], lambda s: self.read_source(s, split), carving, f"data.{split}")
        return Stream(self.files(spec, split), lambda f: self.read_file(f, split), carving,
                      f"data.{split}")

    def read_examples(self, spec, split):
        """``[Example]`` of a held-out split (every file of ``spec``), in memory; runs for
        each given held-out split, and for the file ``seqtasks evaluate`` scores."""
        return list(self.stream(spec, split))

    def carve_fraction(self, split):
        """The share of train held out for a missing ``split``; runs when :meth:`splits`
        plans the carving."""
        return self.config["data"]["validation_fraction"]

    def adapt(self, splits, preprocessor, observed):
        """The adaptation pass; runs once per run (not when resumed): ``preprocessor.adapt``
        on the training stream as ``observed`` (a generator function counting what it reads)
        wraps it; the held-out splits carved from it are filled as it is read."""
        stream = observed(splits["train"])
        preprocessor.adapt(stream)
        for _ in stream:  # an adapter that stopped early still sees the whole pass
            pass
        self.check_carved(splits)

    def state(self):
        """What reading learned in the adaptation pass, for a resumed run to take instead of
        a second pass (pickled); runs once the run's datasets are built. The base reader's:
        the carved held-out examples, the training size and where the stream's files start."""
        train = self.train
        return {"carving": train.carving.state() if train.carving else None,
                "carved": {s: list(e) for s, e in train.carved.items()},
                "train_examples": len(train), "head": list(train.head),
                "file_counts": list(train.file_counts)}

    def restore(self, state):
        """Take back a :meth:`state`: the next :meth:`splits` needs no adaptation pass. Runs
        before a resumed run reads anything."""
        self.restored = state

    # ----- the machinery -----------------------------------------------------------------------
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

    def splits(self):
        """``{split: examples}``: train as a :class:`~seqtasks.data.stream.Stream` of its files
        (or of the built-in data), the given held-out splits read into lists, and a missing
        validation or test split carved from train by the stream's first pass (the recipe's
        adaptation pass). Runs first in the recipe's ``build_datasets``; readers whose data is
        not a stream of examples override this."""
        from seqtasks.data.stream import Carving, Stream

        data = self.config["data"]
        seed = self.config["train"]["seed"]
        if data["train"] is None:
            self.check_builtin_only()
            splits = self.builtin(seed)
        else:  # in this order: the datasets' random ops take their seeds in it
            splits = {"train": data["train"], **{s: self.read_examples(data[s], s)
                                                for s in ("validation", "test")
                                                if data[s] is not None}}
        missing = [s for s in ("test", "validation") if s not in splits]
        carving = (Carving({s: self.carve_fraction(s) for s in missing}, seed,
                           data["carve_limit"]) if missing else None)
        if data["train"] is None:
            stream = Stream([list(splits["train"])], iter, carving, "built-in data")
        else:
            stream = self.stream(data["train"], "train", carving)
        if self.restored is not None:
            state = self.restored
            if state["carving"] is not None:
                stream.carving = Carving.from_state(state["carving"])
            stream.restore(state["train_examples"], state["carved"], state["head"],
                           state["file_counts"])
        splits["train"] = self.train = stream
        splits.update(stream.carved)
        return splits

    def check_carved(self, splits):
        """After the first pass over a training stream: no split is empty."""
        train = splits["train"]
        if not len(train):
            raise DataError(f"{self.describe('train')}: the training set is empty")
        carved = train.carved
        for split, held in carved.items():
            if not held:
                raise self.too_few(len(train) + sum(map(len, carved.values())), split)
        self.check_not_empty(splits)

    def check_builtin_only(self):
        data = self.config["data"]
        if data["validation"] is not None or data["test"] is not None:
            raise ConfigError("data.train: must be set when data.validation or data.test is")

    def too_few(self, count, split):
        return DataError(f"{self.describe('train')}: {count} examples are too few to carve a "
                         f"{split} split from; give data.{split}")

    def check_not_empty(self, splits):
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
        """How error messages name ``split``: its ``data.*`` value, or the key."""
        spec = self.config["data"].get(split)
        return str(spec) if spec is not None else f"data.{split}"
