"""forecasting: sequence -> value. The last ``window`` steps of a series -> the next ``horizon``.

values of the last ``window`` steps (every value column, normalised with the training range's
mean and standard deviation: :class:`ForecastingPreprocessor`) -> ElmanRNN (stackable) -> the
prediction head with a linear output of ``horizon`` values (the target column, normalised) ->
denormalised forecasts. One CSV series is split by date: training range, then validation, then
test (``data.test_start``, or the last ``data.test_fraction``); a window may reach back into the
previous range, a target never crosses into it. An example is one target step: the raw window
before it, what follows (:class:`~seqtasks.recipes.forecasting.data.Future`) and its date.
"""

import datetime

from seqtasks.config import Key, Unsupported, fraction, positive
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe
from seqtasks.recipes.forecasting.data import ForecastingReader


@register
class Forecasting(Recipe):
    """Sequence -> value: the last ``data.window`` steps of a series -> the next
    ``data.horizon``. One CSV series split by date; test metrics: MAE and RMSE beside
    persistence and seasonal naive, and ``forecast.png``.

    Example: ``seqtasks.run("forecasting", {"data.train": "temps.csv", "data.window": 30})``."""
    name = "forecasting"
    description = "sequence -> value: the last days of a series -> the next ones"
    loss = "mse"
    reader_cls = ForecastingReader
    #: The export's signatures: ``{name: (inputs, outputs)}``, each ``{key: "dtype [shape]:
    #: meaning"}`` (checked against the export by the contract test; shown in the reference).
    documented_signatures = {"serving_default": (
        {"values": "float32 [batch, data.window] (or [batch, data.window, columns]): the last "
                   "steps of the value columns, in their units"},
        {"forecast": "float32 [batch, data.horizon]: the next steps of the target column"})}
    inference_batch_size = 512  # the whole test range in one call where it fits
    schema_extra = {
        "data": {
            "time_column": Key(0, (str, int), "date column: name or 0-based index"),
            "value_columns": Key(None, (list, str), "value columns (names or indices) fed to "
                                 "the model; default: every column but the date"),
            "target_column": Key(None, (str, int), "the column forecast; default: the first "
                                 "value column"),
            "window": positive(30, "steps of history the model sees"),
            "horizon": positive(1, "steps forecast at once"),
            "missing": Key("interpolate", (str,), "a missing step (no row, or an empty/NA "
                           "cell): fill it by linear interpolation, or stop with its date",
                           ("interpolate", "error")),
            "step": Key("auto", (str,), "one step of the series: auto (the most common gap "
                        "between dates, or business days when only weekdays occur and weekends "
                        "are skipped), row (every row one step, for irregular series), or a "
                        "duration such as 1d, 7d, 1h, 15min"),
            "test_start": Key(None, (str, datetime.date), "first date of the test range (e.g. "
                              "1990-01-01); default: the last test_fraction of the series"),
            "test_fraction": fraction(0.1, "share of the series tested without a test_start"),
            "season": Key(0, (int,), "steps per season of the seasonal-naive baseline; 0: from "
                          "the step (365 daily, 52 weekly, 12 monthly, 24 hourly)",
                          bounds="non-negative"),
        },
        "model": {"units": 64, "hidden_units": 64,
                  "dropout": fraction(0.0, "dropout on recurrent inputs and in the head"),
                  "embedding_dim": Unsupported("the values are read as they are, not embedded")},
        "train": {"epochs": positive(60, "number of passes over the training windows"),
                  "batch_size": positive(64, "windows per batch"),
                  "early_stopping_patience": 10, "reduce_lr_patience": 4,
                  "bucketing": Unsupported("every window has data.window steps")},
    }

    def make_preprocessor(self):
        from seqtasks.recipes.forecasting.preprocessor import ForecastingPreprocessor

        data = self.config["data"]
        return ForecastingPreprocessor(data["window"], self.reader.series.columns,
                                       data["target_column"], name="preprocessor")

    def dataset(self, split, examples):
        """The windows cut inside tf.data from the series (start steps mapped to slices)."""
        seed = self.config["train"]["seed"] if split == "train" else None
        return self.preprocessor.windows_dataset(examples, shuffle_seed=seed)

    def batch(self, dataset, split):
        import tensorflow as tf

        return dataset.batch(self.global_batch_size()).prefetch(tf.data.AUTOTUNE)

    def data_summary(self, splits, datasets):
        from seqtasks.recipes.forecasting.data import describe_step, stamp

        series = self.reader.series
        return {"steps": len(series.dates), "step": describe_step(series.step),
                "filled_missing_steps": series.filled,
                "interpolated_fraction": round(series.filled / len(series.dates), 4),
                "test_range": [splits["test"][0].where, stamp(series.dates[-1])]}

    def network(self):
        import keras

        from seqtasks.layers import PredictionHead, recurrent_stack

        model, data = self.config["model"], self.config["data"]
        values = keras.Input((data["window"], len(self.preprocessor.columns)), name="values")
        x = recurrent_stack(values, model)  # built before the head: the seeds' order
        forecast = PredictionHead(data["horizon"], model["hidden_units"], dropout=model["dropout"],
                                  output_activation=None, name="head")(x)
        return keras.Model(values, forecast, name=self.name)

    def metrics(self):
        return ["mae"], ()

    def diagnostic(self, model, datasets):
        return (model, *next(iter(datasets["train"].unbatch().batch(256))))  # inputs, targets

    def inference_network(self, model):
        """``model`` on the normalised windows, its forecasts in the series' units."""
        denormaliser = self.preprocessor.denormaliser()
        return lambda windows: denormaliser(model(windows))

    def postprocess(self, outputs, inputs):
        return {"forecast": outputs}

    def export_assets(self):
        from seqtasks.recipes.forecasting.data import describe_step, next_date

        p, data, dates = self.require_preprocessor("export_assets"), self.config["data"], \
            self.reader.series.dates
        return {"window": data["window"], "horizon": data["horizon"], "columns": p.columns,
                "target": p.columns[p.target], "time_column": data["time_column"],
                "step_days": (next_date(self.reader.series) - dates[-1]).total_seconds() / 86400,
                "step": describe_step(self.reader.series.step),
                "last_date": dates[-1].date().isoformat()}

    def score(self, signatures, examples, metadata):
        """MAE and RMSE of the forecasts beside persistence and seasonal naive."""
        import numpy as np

        from seqtasks.recipes.forecasting.data import check_columns, forecast_errors
        from seqtasks.scoring import Scored

        check_columns([e.input for e in examples[:1]], metadata["columns"])
        forecast = self.run_signature(signatures["serving_default"], examples)["forecast"]
        metrics, lines = forecast_errors(
            np.stack(forecast), [e.input for e in examples], [e.target for e in examples],
            metadata["columns"].index(metadata["target"]))
        dates = [datetime.datetime.fromisoformat(e.where) for e in examples]
        column = metadata["target"]

        def draw(path):  # the scored range, actual against the first step and persistence
            from seqtasks.plots import line_plot

            return line_plot(path, dates, lines, ylabel=column,
                             title=f"{column}: test range, one step ahead")

        return Scored(metrics, predictions=[np.asarray(row).tolist() for row in forecast],
                      figures={"forecast.png": draw})

    def report(self, scored):
        from seqtasks.recipes.forecasting.data import error_table

        return error_table(scored.metrics)
