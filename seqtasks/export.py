"""Versioned exports in the TF Serving layout: ``<export.dir>/<recipe>/<N>/``.

Each version holds a SavedModel whose ``serving_default`` signature takes raw inputs (strings
or image bytes) and returns strings, and, under ``assets.extra/`` (which TF Serving ignores),
the ``.keras`` model for Python use and ``seqtasks.json`` describing the export. A version is
written into a temporary directory and renamed into place: it appears whole or not at all, and
an existing version is never overwritten.
"""

import json
import os
import time
from pathlib import Path

from seqtasks.errors import ExportError
from seqtasks.files import atomic_directory

METADATA = "assets.extra/seqtasks.json"
KERAS_FILE = "assets.extra/model.keras"
CONFIG_FILE = "assets.extra/config.toml"


def next_version(recipe_dir):
    versions = [int(p.name) for p in Path(recipe_dir).glob("*") if p.name.isdigit()]
    return max(versions, default=0) + 1


def portable(model):
    """A float32 copy of ``model`` with ordinary variables.

    A model trained under a distribution strategy holds mirrored variables, and a SavedModel
    signature cannot capture those (dropout seed state, for one). A model trained in mixed
    precision (``train.precision``) keeps float32 weights, which the copy computes with in
    float32: the export's numbers do not depend on how the model was trained.
    """
    import keras

    config = _float32_policies(keras.saving.serialize_keras_object(model))
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy


def _float32_policies(config):
    """``config`` (a serialized Keras object) with every dtype policy made float32."""
    if isinstance(config, list):
        return [_float32_policies(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy":
        return {**config, "config": {**config["config"], "name": "float32"}}
    return {key: _float32_policies(value) for key, value in config.items()}


def export(task, model, export_dir=None):
    """Export a trained ``model`` of recipe ``task``; returns the new version's path."""
    import keras

    from seqtasks import __version__
    from seqtasks import config as config_lib

    recipe_dir = Path(export_dir or task.config["export"]["dir"]) / task.name
    inference, endpoints = task.deployable(model)
    with atomic_directory(recipe_dir, "export") as tmp:
        archive = keras.export.ExportArchive()
        # Layers, not models: tracking a Keras model makes SavedModel trace the model's call
        # once per walk of the object graph (2 s of a 4 s export). Lookup tables live in
        # layers; a function capturing an untracked one fails the save, never silently.
        for layer in inference._flatten_layers(include_self=False):
            if layer.built and not isinstance(layer, keras.Model):
                archive.track(layer)
        for name, function in endpoints.items():
            archive.add_endpoint(name, function)
        # With the custom-gradient functions (the Elman recurrence's backward loops): leaving
        # them out halves the write, but every load then warns that gradients will fail.
        archive.write_out(str(tmp), verbose=False)
        (tmp / "assets.extra").mkdir(exist_ok=True)
        inference.save(tmp / KERAS_FILE)
        inputs = [spec.name for spec in endpoints["serving_default"].input_signature]
        metadata = {
            "recipe": task.name,
            "seqtasks_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "input": inputs[0],
            "inputs": inputs,
            **_saved_arrays(task.export_assets(), tmp / "assets.extra"),
        }
        (tmp / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
        (tmp / CONFIG_FILE).write_text(
            config_lib.to_toml(task.config, task.name, task.schema()))
        while True:
            target = recipe_dir / str(next_version(recipe_dir))
            try:
                os.rename(tmp, target)  # fails if another export took this number meanwhile
                return target
            except OSError:
                if not target.exists():
                    raise


def resolve_export(path):
    """The version directory for ``path``: a version itself, or the newest one below it."""
    path = Path(path)
    if not path.is_dir():
        raise ExportError(f"{path}: no such export directory")
    if not (path / "saved_model.pb").exists():
        versions = sorted((p for p in path.iterdir() if p.name.isdigit()),
                          key=lambda p: int(p.name))
        versions = [v for v in versions if (v / "saved_model.pb").exists()]
        if not versions:
            raise ExportError(
                f"{path}: not a seqtasks export (no saved_model.pb, and no numbered versions)"
            )
        path = versions[-1]
    if not (path / METADATA).exists():
        raise ExportError(f"{path}: not a seqtasks export (no {METADATA})")
    return path


def _saved_arrays(assets, folder):
    """``assets`` with each NumPy array saved as ``folder/<key>.npy`` and replaced by
    ``{"npy": "<key>.npy"}`` (see :func:`load_arrays`)."""
    import numpy as np

    folder.mkdir(exist_ok=True)
    saved = dict(assets)
    for key, value in assets.items():
        if isinstance(value, np.ndarray):
            np.save(folder / f"{key}.npy", value, allow_pickle=False)
            saved[key] = {"npy": f"{key}.npy"}
    return saved


def read_metadata(version_dir):
    """The export's ``seqtasks.json``; arrays stay on disk (see :func:`load_arrays`)."""
    try:
        return json.loads((Path(version_dir) / METADATA).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ExportError(f"{version_dir}/{METADATA}: unreadable ({e})") from None


def load_arrays(version_dir, metadata):
    """``metadata`` with its saved arrays (``{"npy": name}``) read back: what
    :meth:`~seqtasks.recipes.base.Recipe.export_assets` gave when the export was written."""
    import numpy as np

    def loaded(value):
        if isinstance(value, dict) and set(value) == {"npy"}:
            try:
                return np.load(Path(version_dir) / "assets.extra" / value["npy"],
                               allow_pickle=False)
            except (OSError, ValueError) as e:
                raise ExportError(f"{version_dir}/assets.extra/{value['npy']}: unreadable "
                                  f"({e})") from None
        return value

    return {key: loaded(value) for key, value in metadata.items()}


def load_saved_model(path):
    """``tf.saved_model.load`` of an export, TF Text's ops registered first (the subword
    tokenizer's; stock TF Serving links them too)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops)

    return tf.saved_model.load(str(path))


def load_signature(version_dir, name="serving_default"):
    """A signature (``serving_default`` by default) of an export, loaded with TensorFlow alone
    (and TF Text's ops)."""
    loaded = load_saved_model(version_dir)
    if name not in loaded.signatures:
        raise ExportError(f"{version_dir}: the SavedModel has no {name} signature")
    return loaded.signatures[name]
