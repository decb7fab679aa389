"""The base class every recipe extends.

A recipe knows its task: how to read its data, build its model, measure it, and what its
export takes and returns. The shared machinery (configuration, training loop, export, CLI)
only talks to recipes through the methods below.

Lifecycle, as the runner and a notebook use it::

    task = Recipe(config)
    data = task.build_datasets()        # reads splits, adapts vocabularies on train
    model = task.build_model()          # compiled under the distribution strategy
    ...fit...
    metrics = task.evaluate(model, data)
    archive_fn = task.serving_function(model)
"""

from __future__ import annotations

import random

from seqtasks import config as config_lib
from seqtasks.errors import ConfigError, DataError

SPLITS = ("train", "validation", "test")


class Recipe:
    """Base class of recipes. Subclasses set the class attributes and implement the hooks."""

    #: Registry key, TOML ``recipe =`` value, module and export directory name.
    name = ""
    #: One line shown by ``seqtasks list``.
    description = ""
    #: Keys this recipe adds to (or re-defaults in) :data:`seqtasks.config.COMMON`; a plain
    #: value instead of a ``Key`` only changes a common key's default.
    schema_extra: dict = {}
    #: Name of the input of the ``serving_default`` signature.
    serving_input = "text"
    #: Its dtype: what ``seqtasks predict`` feeds it.
    serving_dtype = "string"

    @classmethod
    def schema(cls):
        return config_lib.merge_schema(config_lib.COMMON, cls.schema_extra)

    @classmethod
    def default_config(cls, overrides=()):
        """The fully resolved configuration from defaults plus ``section.key=value`` overrides."""
        return config_lib.resolve(cls.schema(), cls.name, (), overrides)

    def __init__(self, config=None):
        self.config = config if config is not None else self.default_config()

    # ----- data -------------------------------------------------------------------------
    def builtin_splits(self, seed):
        """``{split: examples}`` of the built-in data set used when ``data.train`` is unset."""
        raise NotImplementedError

    def read_file(self, path, split):
        """Examples read from a file in one of the recipe's formats."""
        raise NotImplementedError

    def read_tfds(self, name, split):
        """Examples of a TFDS catalog dataset split."""
        raise NotImplementedError

    def read_source(self, spec, split):
        if isinstance(spec, str) and spec.startswith("tfds:"):
            parts = spec.split(":")
            if len(parts) not in (2, 3) or not parts[1]:
                raise ConfigError(
                    f"data.{split}: expected tfds:<name> or tfds:<name>:<split>, found {spec!r}"
                )
            return self.read_tfds(parts[1], parts[2] if len(parts) == 3 else split)
        return self.read_file(spec, split)

    def load_splits(self):
        """Read train, validation and test; carve missing ones from train (seeded)."""
        data = self.config["data"]
        seed = self.config["train"]["seed"]
        if data["train"] is None:
            if data["validation"] is not None or data["test"] is not None:
                raise ConfigError("data.train: must be set when data.validation or data.test is")
            splits = self.builtin_splits(seed)
        else:
            splits = {s: self.read_source(data[s], s) for s in SPLITS if data[s] is not None}
        train = list(splits["train"])
        if not train:
            raise DataError(f"{self._describe('train')}: the training set is empty")
        rng = random.Random(seed)
        for split in ("test", "validation"):
            if split not in splits:
                fraction = data["validation_fraction"]
                rng.shuffle(train)
                cut = max(1, int(len(train) * fraction))
                if len(train) - cut < 1:
                    raise DataError(
                        f"{self._describe('train')}: {len(train)} examples are too few to carve "
                        f"a {split} split from; give data.{split}"
                    )
                splits[split], train = train[:cut], train[cut:]
        splits["train"] = train
        for split in ("validation", "test"):
            if not splits[split]:
                raise DataError(f"{self._describe(split)}: the {split} set is empty")
        return splits

    def _describe(self, split):
        spec = self.config["data"].get(split)
        return str(spec) if spec is not None else f"data.{split}"

    # ----- model, metrics, export -----------------------------------------------------
    def build_datasets(self):
        """``{split: tf.data.Dataset}`` of batches, plus anything learned from train."""
        raise NotImplementedError

    def build_model(self):
        """The training model, compiled."""
        raise NotImplementedError

    def callbacks(self):
        """Extra Keras callbacks for training (e.g. resetting stateful RNNs)."""
        return []

    def evaluate(self, model, datasets):
        """``{metric: value}`` on ``datasets['test']``."""
        raise NotImplementedError

    def report(self, metrics):
        """Lines printed after the test metrics (a per-class table, sample outputs)."""
        return []

    def diagnostic(self, model, datasets):
        """``(forward, inputs, targets)`` for ``seqtasks diagnose``: float ``inputs [batch,
        steps, features]``, ``forward(inputs, training=False)`` the prediction after the last
        step and ``targets`` what the loss compares it with (recipes without one are not
        diagnosable)."""
        raise NotImplementedError

    def write_artifacts(self, run_dir):
        """Files (plots) written into the run directory after evaluation; returns their paths."""
        return []

    def inference_model(self, model):
        """A Keras model from raw inputs to predictions, saved as the ``.keras`` export."""
        raise NotImplementedError

    def serving_function(self, inference_model):
        """A ``tf.function`` with a named input signature: the ``serving_default`` endpoint."""
        raise NotImplementedError

    def extra_endpoints(self, inference_model):
        """``{name: tf.function}``: signatures exported beside ``serving_default``."""
        return {}

    def export_assets(self):
        """Extra JSON-serialisable facts written into the export's ``seqtasks.json``."""
        return {}

    @classmethod
    def read_inputs(cls, items):
        """The values ``seqtasks predict`` feeds the signature for its arguments (or stdin
        lines): the texts themselves by default; a recipe taking files reads them here."""
        return list(items)

    @classmethod
    def read_csv_inputs(cls, path, metadata):
        """The values ``seqtasks predict --csv`` feeds the signature (forecasting only)."""
        raise ConfigError(f"--csv: the {cls.name} export takes {cls.serving_input} arguments, "
                          "not a CSV series")

    @classmethod
    def format_prediction(cls, inputs, outputs):
        """Lines that ``seqtasks predict`` prints for one batch of signature outputs."""
        raise NotImplementedError
