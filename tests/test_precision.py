"""``train.precision = "mixed_bfloat16"``: training computes in bfloat16 with float32 weights,
the softmax stays float32, and what is exported computes in float32."""

import keras
import numpy as np
import pytest
from helpers import numpy_attention_pooling, tiny
from samples import SIGNATURES, tiny_task

from seqtasks import export
from seqtasks.recipes import get_recipe


@pytest.fixture(scope="module")
def trained():
    recipe = get_recipe("smart_reply")
    task = recipe(recipe.default_config(tiny("train.precision=mixed_bfloat16", epochs=1)))
    datasets = task.build_datasets()
    model = task.build_model()
    model.fit(datasets["train"], epochs=1, verbose=0)
    batch = next(iter(datasets["test"]))[0].numpy()
    return task, model, batch


def test_training_computes_in_bfloat16_with_float32_weights(trained):
    task, model, _ = trained
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    for layer in model.layers[1:]:
        assert layer.dtype_policy.name == "mixed_bfloat16", layer.name
    assert {w.dtype for w in model.weights} == {"float32"}
    assert model.output.dtype == "float32"  # the softmax


def test_the_export_computes_in_float32(trained):
    """The portable copy (what evaluation and the export run) matches a float32 forward pass
    written in NumPy from the trained weights; the bfloat16 model itself does not."""
    task, model, ids = trained
    copy = export.portable(model)
    assert {layer.dtype_policy.name for layer in copy.layers[1:]} == {"float32"}
    weights = {w.path: w.numpy() for w in model.weights}

    def get(suffix):
        (value,) = [v for k, v in weights.items() if k.endswith(suffix)]
        return value

    emb = get("embedding/embeddings")[ids]
    mask = (ids != 0)[..., None]

    def elman(x, kernel, bias, mask):
        """Elman states at every step; a padded step keeps the state (NumPy)."""
        h = np.zeros((x.shape[0], kernel.shape[1]), np.float32)
        out = []
        for t in range(x.shape[1]):
            new = np.tanh(np.concatenate([x[:, t], h], -1) @ kernel + bias)
            h = np.where(mask[:, t], new, h)
            out.append(h)
        return np.stack(out, 1)

    def cell(direction):  # layer names get a number when other tests built models first
        (kernel,) = [k for k in weights
                     if k.startswith(f"encoder_0/{direction}") and k.endswith("/kernel")]
        return kernel.rsplit("/", 1)[0]

    forward, backward = cell("forward"), cell("backward")
    fw = elman(emb, weights[f"{forward}/kernel"], weights[f"{forward}/bias"], mask)
    # the backward layer reads each row's real tokens in reverse (padding is at the end)
    bw = np.zeros_like(fw)
    for i, n in enumerate(mask[..., 0].sum(1)):
        bw[i, :n] = elman(emb[i:i + 1, :n][:, ::-1], weights[f"{backward}/kernel"],
                          weights[f"{backward}/bias"], mask[i:i + 1, :n])[0, ::-1]
    h = np.concatenate([fw, bw], -1)
    pooled = numpy_attention_pooling(h, mask[..., 0], get("pooling/project/kernel"),
                                     get("pooling/project/bias"), get("pooling/score/kernel"))
    hidden = np.maximum(pooled @ get("head/hidden/kernel") + get("head/hidden/bias"), 0)
    logits = hidden @ get("head/output/kernel") + get("head/output/bias")
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(copy(ids, training=False), probs, atol=1e-5)
    gap = np.abs(np.asarray(model(ids, training=False)) - probs).max()
    print("bfloat16 model vs float32 reference:", gap)
    assert gap > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_every_recipe_trains_in_mixed_bfloat16_and_exports_the_same_signature(name, tmp_path):
    """One step of each recipe in mixed_bfloat16; the export's serving_default keeps the
    documented inputs, and every floating output is float32."""
    import tensorflow as tf

    task = tiny_task(name, tmp_path, overrides=["train.precision=mixed_bfloat16"])
    datasets = task.build_datasets()
    model = task.build_model()
    history = model.fit(datasets["train"].take(2), verbose=0, callbacks=task.callbacks())
    assert np.isfinite(history.history["loss"]).all()
    signature = tf.saved_model.load(str(export.export(task, model))).signatures[
        "serving_default"]
    inputs, outputs = SIGNATURES[name]
    specs = signature.structured_input_signature[1]
    assert {k: (v.dtype.name, v.shape.as_list()) for k, v in specs.items()} == inputs
    assert set(signature.structured_outputs) == outputs
    floats = {v.dtype.name for v in signature.structured_outputs.values() if v.dtype.is_floating}
    assert floats <= {"float32"}
