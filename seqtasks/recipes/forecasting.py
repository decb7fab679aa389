"""forecasting: sequence -> value. The last ``window`` steps of a series -> the next ``horizon``.

values of the last ``window`` steps (every value column, normalised with the training range's
mean and standard deviation) -> ElmanRNN (stackable) -> the prediction head with a linear
output of ``horizon`` values (the target column, normalised) -> denormalised forecasts. One
CSV series is split by date: training range, then validation, then test (``data.test_start``,
or the last ``data.test_fraction``); a window may reach back into the previous range, a target
never crosses into it.
"""

import datetime

from seqtasks.config import Key
from seqtasks.errors import ConfigError, DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe


def _season(step):
    """Steps per season for the seasonal-naive baseline, from the series' step."""
    days = step.total_seconds() / 86400
    if abs(days - 1) < 1e-9:
        return 365
    if abs(days - 7) < 1e-9:
        return 52
    if 28 <= days <= 31:
        return 12
    if abs(days * 24 - 1) < 1e-9:
        return 24
    return 1


@register
class Forecasting(Recipe):
    name = "forecasting"
    description = "sequence -> value: the last days of a series -> the next ones"
    serving_input = "values"
    serving_dtype = "float32"
    schema_extra = {
        "data": {
            "time_column": Key(0, (str, int), "date column: name or 0-based index"),
            "value_columns": Key(None, (list, str), "value columns (names or indices) fed to "
                                 "the model; default: every column but the date"),
            "target_column": Key(None, (str, int), "the column forecast; default: the first "
                                 "value column"),
            "window": Key(30, (int,), "steps of history the model sees"),
            "horizon": Key(1, (int,), "steps forecast at once"),
            "missing": Key("interpolate", (str,), "a missing step (no row, or an empty/NA "
                           "cell): fill it by linear interpolation, or stop with its date",
                           ("interpolate", "error")),
            "test_start": Key(None, (str, datetime.date), "first date of the test range (e.g. "
                              "1990-01-01); default: the last test_fraction of the series"),
            "test_fraction": Key(0.1, (float,), "share of the series tested when test_start is "
                                 "not set"),
            "season": Key(0, (int,), "steps per season of the seasonal-naive baseline; 0: from "
                          "the step (365 daily, 52 weekly, 12 monthly, 24 hourly)"),
        },
        "model": {
            "units": 64,
            "hidden_units": Key(64, (int,), "size of the ReLU layer of the regression head"),
            "dropout": Key(0.0, (float,), "dropout on recurrent inputs and in the head"),
        },
        "train": {
            "epochs": Key(60, (int,), "number of passes over the training windows"),
            "batch_size": Key(64, (int,), "windows per batch"),
            "early_stopping_patience": 10,
            "reduce_lr_patience": 4,
        },
    }

    # ----- data --------------------------------------------------------------------------
    def _series(self):
        from seqtasks.data.builtin import forecasting as builtin
        from seqtasks.data.series import Series, read_series

        data = self.config["data"]
        for key in ("validation", "test"):
            if data[key] is not None:
                raise ConfigError(f"data.{key}: forecasting splits one series by date; give "
                                  "the whole series as data.train and set data.test_start")
        if data["train"] is None:
            dates, values = builtin.generate(seed=self.config["train"]["seed"])
            dates = [datetime.datetime.combine(d, datetime.time()) for d in dates]
            return Series(dates, values[:, None], ["value"], 0), "built-in series"
        if not isinstance(data["train"], str) or data["train"].startswith("tfds:"):
            raise ConfigError(f"data.train: expected a CSV file, found {data['train']!r}")
        series = read_series(data["train"], data["time_column"], data["value_columns"],
                             data["missing"])
        return series, data["train"]

    def _ranges(self, series, source):
        """``(validation start, test start)`` step indices of the targets."""
        data = self.config["data"]
        steps = len(series.dates)
        window, horizon = data["window"], data["horizon"]
        if data["test_start"] is not None:
            try:
                start = datetime.datetime.fromisoformat(str(data["test_start"]))
            except ValueError:
                raise ConfigError(f"data.test_start: expected a date like 1990-01-01, found "
                                  f"{data['test_start']!r}") from None
            test = next((i for i, d in enumerate(series.dates) if d >= start), steps)
        else:
            test = steps - max(int(steps * data["test_fraction"]), horizon)
        usable = test - window
        validation = test - max(int(usable * data["validation_fraction"]), 1)
        if validation - window < 1 or steps - test < horizon:
            raise DataError(
                f"{source}: {steps} steps are too few for a window of {window}, a horizon of "
                f"{horizon} and training, validation and test ranges; need more data or a "
                "smaller data.window")
        return validation, test

    def build_datasets(self):
        import numpy as np
        import tensorflow as tf

        data, train = self.config["data"], self.config["train"]
        if data["window"] < 1 or data["horizon"] < 1:
            raise ConfigError("data.window and data.horizon: expected positive integers, found "
                              f"{data['window']} and {data['horizon']}")
        series, source = self._series()
        target = data["target_column"]
        if target is None:
            self.target_index = 0
        elif isinstance(target, int):
            self.target_index = target if target < len(series.columns) else -1
        else:
            self.target_index = series.columns.index(target) if target in series.columns else -1
        if self.target_index < 0:
            raise ConfigError(f"data.target_column: {target!r} is not one of the value columns "
                              f"{series.columns}")
        validation, test = self._ranges(series, source)
        values = series.values
        self.mean = values[:validation].mean(axis=0)
        self.std = np.maximum(values[:validation].std(axis=0), 1e-6)
        normal = (values - self.mean) / self.std
        window, horizon = data["window"], data["horizon"]
        steps = len(values)
        self.series, self.source, self.steps = series, source, (validation, test)
        bounds = {"train": (window, validation - horizon + 1),
                  "validation": (validation, test - horizon + 1),
                  "test": (test, steps - horizon + 1)}
        self.starts = {split: np.arange(a, b) for split, (a, b) in bounds.items()}
        self.normal = tf.constant(normal, tf.float32)
        datasets = {}
        for split, starts in self.starts.items():
            ds = tf.data.Dataset.from_tensor_slices(starts)
            if split == "train":
                ds = ds.shuffle(len(starts), seed=train["seed"])
            datasets[split] = (self._windows(ds).batch(train["batch_size"])
                               .prefetch(tf.data.AUTOTUNE))
        self.summary = {
            "steps": steps, "columns": series.columns,
            "target": series.columns[self.target_index],
            "windows": {split: len(s) for split, s in self.starts.items()},
            "test_range": [series.dates[test].date().isoformat(),
                           series.dates[-1].date().isoformat()],
            "filled_missing_steps": series.filled,
        }
        return datasets

    def _windows(self, starts):
        """A dataset of target start steps -> ``(window of every column, horizon of the
        target)``, cut from the normalised series inside the tf.data pipeline."""
        import tensorflow as tf

        data, normal, target = self.config["data"], self.normal, self.target_index
        window, horizon = data["window"], data["horizon"]
        return starts.map(lambda s: (normal[s - window:s], normal[s:s + horizon, target]),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    # ----- model -------------------------------------------------------------------------
    def build_model(self):
        import keras

        from seqtasks.distribute import get_strategy
        from seqtasks.layers import PredictionHead, recurrent_stack
        from seqtasks.training import compile_model

        model_config, train = self.config["model"], self.config["train"]
        data = self.config["data"]
        with get_strategy(train["strategy"]).scope():
            inputs = keras.Input((data["window"], len(self.series.columns)), name="values")
            x = recurrent_stack(inputs, model_config)
            outputs = PredictionHead(data["horizon"], model_config["hidden_units"],
                                     dropout=model_config["dropout"], output_activation=None,
                                     name="head")(x)
            model = keras.Model(inputs, outputs, name=self.name)
            compile_model(model, train, loss="mse",
                          metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
        return model

    # ----- metrics -----------------------------------------------------------------------
    def forecasts(self, model, split="test"):
        """``(forecast, actual, persistence, seasonal)`` arrays ``[windows, horizon]`` in the
        series' units; ``seasonal`` is NaN where a season ago is before the series starts."""
        import numpy as np
        import tensorflow as tf

        data = self.config["data"]
        horizon = data["horizon"]
        column = self.series.values[:, self.target_index]
        starts = self.starts[split]
        inputs = self._windows(tf.data.Dataset.from_tensor_slices(starts)).map(
            lambda x, y: x).batch(512)
        predicted = model.predict(inputs, verbose=0)
        forecast = predicted * self.std[self.target_index] + self.mean[self.target_index]
        actual = np.stack([column[s:s + horizon] for s in starts])
        persistence = np.repeat(column[starts - 1][:, None], horizon, axis=1)
        season = data["season"] or _season(self.series.dates[1] - self.series.dates[0])
        back = starts[:, None] + np.arange(horizon)[None, :] - season
        seasonal = np.where(back >= 0, column[np.maximum(back, 0)], np.nan)
        return forecast, actual, persistence, seasonal

    def evaluate(self, model, datasets):
        import numpy as np

        forecast, actual, persistence, seasonal = self.forecasts(model)

        def scores(prediction, name):
            ok = ~np.isnan(prediction)
            if not ok.any():
                return {}
            error = prediction[ok] - actual[ok]
            return {f"{name}mae": round(float(np.abs(error).mean()), 6),
                    f"{name}rmse": round(float(np.sqrt((error ** 2).mean())), 6)}

        metrics = {**scores(forecast, ""), **scores(persistence, "persistence_"),
                   **scores(seasonal, "seasonal_naive_")}
        metrics["windows"] = int(len(actual))
        self.test_forecast = (forecast, actual, persistence)
        return metrics

    def report(self, metrics):
        rows = [("model", ""), ("persistence", "persistence_"),
                ("seasonal naive", "seasonal_naive_")]
        lines = ["  forecast           MAE      RMSE"]
        for label, prefix in rows:
            if f"{prefix}mae" in metrics:
                lines.append(f"  {label:15} {metrics[f'{prefix}mae']:8.3f}  "
                             f"{metrics[f'{prefix}rmse']:8.3f}")
        return lines

    def diagnostic(self, model, datasets):
        inputs, targets = next(iter(datasets["train"].unbatch().batch(256)))
        return model, inputs, targets

    def write_artifacts(self, run_dir):
        """``forecast.png``: the test range, actual against the model's first forecast step
        and persistence."""
        from seqtasks.plots import line_plot

        forecast, actual, persistence = self.test_forecast
        dates = [self.series.dates[s] for s in self.starts["test"]]
        name = self.series.columns[self.target_index]
        return [line_plot(
            run_dir / "forecast.png", dates,
            {"actual": actual[:, 0], "forecast": forecast[:, 0],
             "persistence": persistence[:, 0]},
            title=f"{name}: test range, one step ahead", ylabel=name)]

    # ----- export ------------------------------------------------------------------------
    def inference_model(self, model):
        import keras

        data = self.config["data"]
        columns = len(self.series.columns)
        shape = (data["window"],) if columns == 1 else (data["window"], columns)
        values = keras.Input(shape, name="values")
        x = keras.layers.Reshape((data["window"], columns))(values) if columns == 1 else values
        x = keras.layers.Normalization(mean=self.mean, variance=self.std ** 2,
                                       name="normalise")(x)
        y = model(x)
        t = self.target_index
        y = keras.layers.Rescaling(float(self.std[t]), offset=float(self.mean[t]),
                                   name="denormalise")(y)
        return keras.Model(values, y, name=f"{self.name}_inference")

    def serving_function(self, inference_model):
        import tensorflow as tf

        data = self.config["data"]
        columns = len(self.series.columns)
        shape = [None, data["window"]] + ([columns] if columns > 1 else [])

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="values")])
        def serve(values):
            return {"forecast": inference_model(values)}

        return serve

    def export_assets(self):
        data = self.config["data"]
        return {"window": data["window"], "horizon": data["horizon"],
                "columns": self.series.columns, "time_column": data["time_column"],
                "step_days": (self.series.dates[1] - self.series.dates[0]).total_seconds() / 86400,
                "last_date": self.series.dates[-1].date().isoformat()}

    @classmethod
    def read_csv_inputs(cls, path, metadata):
        """The last ``window`` steps of a CSV file with the export's columns."""
        import numpy as np

        from seqtasks.data.series import read_series

        series = read_series(path, metadata["time_column"], metadata["columns"])
        window = metadata["window"]
        if len(series.values) < window:
            raise DataError(f"{path}: {len(series.values)} steps, shorter than one window of "
                            f"{window}; the model needs the last {window} steps")
        values = series.values[-window:]
        return [np.asarray(values[:, 0] if values.shape[1] == 1 else values, np.float32)]

    @classmethod
    def format_prediction(cls, inputs, outputs):
        return [" ".join(f"{v:.4f}" for v in row) for row in outputs["forecast"]]
