"""The text tokenizer family against independent references: Python's own string methods and
Keras's ``TextVectorization`` (the peer smart_reply used before)."""

import string

import pytest

TEXTS = ["Where's my card?!  (lost)", "", "Ça va, Jürgen? e-mail me", "  done.  "]


def _decoded(tokens):
    return [[t.decode("utf-8") for t in row if t] for row in tokens.numpy()]


@pytest.mark.parametrize("options, reference", [
    ({"lowercase": False, "split_punctuation": False}, lambda t: t.split()),
    ({"lowercase": True, "split_punctuation": False}, lambda t: t.lower().split()),
    ({"lowercase": True, "split_punctuation": False, "strip_punctuation": True},
     lambda t: t.lower().translate(str.maketrans("", "", string.punctuation)).split()),
])
def test_text_tokenizer_equals_python_string_methods(options, reference):
    import tensorflow as tf

    from seqtasks.layers import TextTokenizer

    tokens = TextTokenizer(**options)(tf.constant(TEXTS))
    assert _decoded(tokens) == [reference(t) for t in TEXTS]
    assert tokens.shape[1] >= 1  # an all-empty batch still has one (padding) column


def test_stripping_punctuation_equals_text_vectorization_on_ascii_text():
    import keras
    import tensorflow as tf

    from seqtasks.layers import TextTokenizer

    ascii_texts = ["Where's my card?!  (lost)", "what_is 2+2 = 4", "HELLO, world."]
    vectorizer = keras.layers.TextVectorization(output_mode="int")
    vectorizer.adapt(ascii_texts)
    vocabulary = vectorizer.get_vocabulary()
    peer = [[vocabulary[i] for i in row if i] for row in vectorizer(ascii_texts).numpy()]
    ours = TextTokenizer(split_punctuation=False, strip_punctuation=True)(tf.constant(ascii_texts))
    assert _decoded(ours) == peer


def test_text_tokenizer_round_trips_its_options():
    from seqtasks.layers import TextTokenizer

    layer = TextTokenizer(lowercase=False, strip_punctuation=True, level="char")
    again = TextTokenizer.from_config(layer.get_config())
    assert (again.lowercase, again.split_punctuation, again.strip_punctuation, again.level) == (
        False, True, True, "char")
