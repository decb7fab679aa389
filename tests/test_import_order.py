"""seqtasks' Keras classes load from a ``.keras`` file whatever the import order: ``import
seqtasks`` before or after TensorFlow or Keras, through ``tf.keras``, ``keras.models`` or
``keras.saving``. Each order runs in a fresh process."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ORDERS = {
    "seqtasks-tensorflow-tf.keras": "import seqtasks\nimport tensorflow as tf\n"
                                    "load = tf.keras.models.load_model",
    "tensorflow-seqtasks-tf.keras": "import tensorflow as tf\nimport seqtasks\n"
                                    "load = tf.keras.models.load_model",
    "seqtasks-tensorflow-keras": "import seqtasks\nimport tensorflow as tf\nimport keras\n"
                                 "load = keras.models.load_model",
    "seqtasks-keras.saving": "import seqtasks\nimport keras\nload = keras.saving.load_model",
    "keras-seqtasks": "import keras\nimport seqtasks\nload = keras.models.load_model",
}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A ``.keras`` model of raw strings -> smart_reply's preprocessor -> Embedding ->
    ElmanRNN, and its outputs for two messages."""
    import keras

    from seqtasks.layers import ElmanRNN
    from seqtasks.recipes.base import Example
    from seqtasks.recipes.smart_reply.preprocessor import SmartReplyPreprocessor

    keras.utils.set_random_seed(0)
    preprocessor = SmartReplyPreprocessor(50, 8, name="preprocessor")
    preprocessor.adapt([Example("hello there", "greet", "a"), Example("bye now", "bye", "b")])
    text = keras.Input((), dtype="string", name="text")
    ids = preprocessor({"text": text})
    states = ElmanRNN(4)(keras.layers.Embedding(preprocessor.vocabulary_size, 3)(ids))
    model = keras.Model(text, states)
    path = tmp_path_factory.mktemp("import-order") / "model.keras"
    model.save(path)
    messages = ["hello there", "bye"]
    return path, messages, np.asarray(model(keras.ops.convert_to_tensor(messages))).tolist()


@pytest.mark.parametrize("order", ORDERS)
def test_a_keras_file_loads_in_any_import_order(saved_model, order, tmp_path):
    path, messages, expected = saved_model
    script = (f"{ORDERS[order]}\nimport json, numpy as np\n"
              f"model = load({str(path)!r})\n"
              f"print(json.dumps(np.asarray(model(tf.constant({messages!r}) if 'tf' in dir() "
              f"else keras.ops.convert_to_tensor({messages!r}))).tolist()))\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(got, expected, atol=1e-6)
