"""forecasting's preprocessor: raw windows of values -> windows normalised with the training
range's mean and standard deviation; what follows a window -> the target column, normalised;
and the network's normalised forecasts -> the series' units."""

import keras
import numpy as np
import tensorflow as tf

from seqtasks.errors import ConfigError
from seqtasks.recipes.preprocessor import Preprocessor


def stitch(examples):
    """The ``[steps, columns]`` stretch of the series that consecutive windows were cut from:
    the first window, then the first step after each window, then the last target's rest."""
    first, last = examples[0], examples[-1]
    return np.concatenate([first.input, np.stack([e.target.values[0] for e in examples]),
                           last.target.values[1:]])


@keras.saving.register_keras_serializable(package="seqtasks")
class ForecastingPreprocessor(Preprocessor):
    """``{"values": (batch, window) float32}`` (``(batch, window, columns)`` for several
    value columns) -> ``(batch, window, columns)`` normalised values; a window's
    :class:`~seqtasks.recipes.forecasting.data.Future` -> its ``horizon`` target values, normalised.

    Each column is normalised with the mean and standard deviation (at least 1e-6) of the
    training range: every step of the training windows and their targets.

    Args:
        window: Steps per input window.
        columns: Names of the value columns, in the order of the last input axis.
        target: The forecast column: a name or an index into ``columns`` (None: the first).
        mean: Per-column means of the training range (None until adapted).
        std: Per-column standard deviations of the training range (None until adapted).

    Example:

    ```python
    p = ForecastingPreprocessor(3, ["temp"], mean=[10.0], std=[2.0])
    p({"values": tf.constant([[8.0, 10.0, 14.0]])})  # [[[-1.], [0.], [2.]]]
    ```
    """

    def __init__(self, window=30, columns=("value",), target=None, mean=None, std=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.window = window
        self.columns = list(columns)
        index = 0 if target is None else target if isinstance(target, int) else \
            self.columns.index(target) if target in self.columns else -1
        if not 0 <= index < len(self.columns):
            raise ConfigError(f"data.target_column: {target!r} is not one of the value "
                              f"columns {self.columns}")
        self.target = index
        self.mean = None if mean is None else [float(m) for m in mean]
        self.std = None if std is None else [float(s) for s in std]

    @property
    def adapted(self):
        return self.mean is not None and self.std is not None

    def adapt(self, examples):
        """Mean and standard deviation of the training range the (consecutive) training
        windows and their targets cover."""
        values = stitch(examples)
        self.mean = values.mean(axis=0).tolist()
        self.std = np.maximum(values.std(axis=0), 1e-6).tolist()

    def summary(self):
        return {"columns": self.columns, "target": self.columns[self.target]}

    def input_signature(self):
        shape = [None, self.window] + ([len(self.columns)] if len(self.columns) > 1 else [])
        return {"values": tf.TensorSpec(shape, tf.float32, name="values")}

    def raw_targets(self, examples):
        return np.stack([e.target.values for e in examples]).astype(np.float32)

    def call(self, inputs):
        self.check_adapted()
        x = inputs["values"]
        if len(self.columns) == 1:
            x = x[..., None]
        return (x - tf.constant(self.mean, tf.float32)) / tf.constant(self.std, tf.float32)

    def encode(self, inputs, targets):
        """An unbatched ``(window, future)`` -> ``(normalised window, normalised horizon of the
        target column)``."""
        x, _ = super().encode(inputs, targets)
        t = self.target
        return x, (targets[:, t] - self.mean[t]) / self.std[t]

    def windows_dataset(self, examples, shuffle_seed=None):
        """Unbatched ``(x, y)`` of ``examples`` (consecutive windows, as :meth:`encode` makes
        them), cut inside tf.data from the stretch of the series they cover: a dataset of start
        steps (shuffled with ``shuffle_seed``, if given) mapped to slices of that stretch."""
        stretch = tf.constant(stitch(examples))
        raw = stretch[:, 0] if len(self.columns) == 1 else stretch
        window, horizon = self.window, len(examples[0].target.values)
        starts = tf.data.Dataset.range(window, window + len(examples))
        if shuffle_seed is not None:
            from seqtasks.data.batching import shuffle_every_epoch

            starts = shuffle_every_epoch(starts, len(examples), shuffle_seed)
        return starts.map(
            lambda s: self.encode({"values": raw[s - window:s]}, stretch[s:s + horizon]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def denormaliser(self):
        """A layer mapping normalised forecasts of the target column to the series' units."""
        t = self.target
        return keras.layers.Rescaling(self.std[t], offset=self.mean[t], name="denormalise")

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs["values"].shape[0], self.window, len(self.columns)),
                                 dtype="float32")

    def get_config(self):
        return {**super().get_config(), "window": self.window, "columns": self.columns,
                "target": self.target, "mean": self.mean, "std": self.std}
