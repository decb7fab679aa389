"""Calling a serving signature (in memory or loaded from a SavedModel) on NumPy batches, with
inputs checked against the signature's shapes and dtypes."""

from seqtasks.errors import DataError


def input_specs(signature):
    """``{name: tf.TensorSpec}`` of a ``tf.function`` with an input signature or of a loaded
    SavedModel signature; None for a plain callable."""
    if hasattr(signature, "structured_input_signature"):
        return signature.structured_input_signature[1]
    specs = getattr(signature, "input_signature", None)
    return None if specs is None else {spec.name: spec for spec in specs}


def columns(rows):
    """``[{input: value}, ...]`` -> ``{input: [value, ...]}``."""
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def call_signature(signature, batch, where="the inputs"):
    """``{output: NumPy array}`` of ``signature`` on ``batch`` (``{input: values}``); values
    that do not fit the signature's shapes or dtypes are a :class:`DataError` naming
    ``where``."""
    import numpy as np
    import tensorflow as tf

    specs = input_specs(signature)
    if specs is None:  # a plain callable: nothing to check against
        return {name: np.asarray(value) for name, value in signature(
            **{k: tf.constant(np.asarray(v)) for k, v in batch.items()}).items()}
    feed = {}
    for name, spec in specs.items():
        value = np.asarray(batch[name])
        if not spec.shape[1:].is_compatible_with(value.shape[1:]):
            raise DataError(f"{where}: input {name!r} has shape {list(value.shape[1:])} per "
                            f"example; the export expects {spec.shape[1:].as_list()} (None: any)")
        try:
            feed[name] = tf.constant(value, spec.dtype)
        except (TypeError, ValueError):
            raise DataError(f"{where}: input {name!r} holds {value.dtype} values; the export "
                            f"expects {spec.dtype.name}") from None
    return {name: value.numpy() for name, value in signature(**feed).items()}
