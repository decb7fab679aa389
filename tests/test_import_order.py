"""seqtasks' Keras classes load from a ``.keras`` file whatever the import order: ``import
seqtasks`` before or after TensorFlow or Keras (each order in a fresh process), through
``tf.keras``, ``keras.models`` and ``keras.saving``."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

#: Import orders, each in a fresh process; the model is then loaded through every loader.
ORDERS = {
    "seqtasks-tensorflow": "import seqtasks\nimport tensorflow as tf\nimport keras",
    "tensorflow-seqtasks": "import tensorflow as tf\nimport seqtasks\nimport keras",
    "keras-seqtasks": "import keras\nimport seqtasks\nimport tensorflow as tf",
}
LOADERS = ("tf.keras.models.load_model", "keras.models.load_model", "keras.saving.load_model")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A ``.keras`` model of raw strings -> smart_reply's preprocessor -> Embedding ->
    ElmanRNN, compiled with seqtasks' own loss, and its outputs for two messages."""
    import keras

    from seqtasks.layers import ElmanRNN
    from seqtasks.losses import SmoothedSparseCrossentropy
    from seqtasks.recipes.base import Example
    from seqtasks.recipes.smart_reply.preprocessor import SmartReplyPreprocessor

    keras.utils.set_random_seed(0)
    preprocessor = SmartReplyPreprocessor(50, 8, name="preprocessor")
    preprocessor.adapt([Example("hello there", "greet", "a"), Example("bye now", "bye", "b")])
    text = keras.Input((), dtype="string", name="text")
    ids = preprocessor({"text": text})
    states = ElmanRNN(4)(keras.layers.Embedding(preprocessor.vocabulary_size, 3)(ids))
    model = keras.Model(text, states)
    model.compile("adam", loss=SmoothedSparseCrossentropy(0.1))  # as smart_reply compiles
    path = tmp_path_factory.mktemp("import-order") / "model.keras"
    model.save(path)
    messages = ["hello there", "bye"]
    return path, messages, np.asarray(model(keras.ops.convert_to_tensor(messages))).tolist()


@pytest.mark.parametrize("order", ORDERS)
def test_a_keras_file_loads_in_any_import_order(saved_model, order, tmp_path):
    path, messages, expected = saved_model
    script = (f"{ORDERS[order]}\nimport json, numpy as np\n"
              f"outputs = [np.asarray(load({str(path)!r})(tf.constant({messages!r}))).tolist() "
              f"for load in ({', '.join(LOADERS)})]\n"
              "print(json.dumps(outputs))\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for got in json.loads(done.stdout.strip().splitlines()[-1]):  # one per loader
        np.testing.assert_allclose(got, expected, atol=1e-6)
