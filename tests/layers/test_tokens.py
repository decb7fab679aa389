"""The text tokenizer family against independent references: Python's own string methods and
Keras's ``TextVectorization`` (the peer smart_reply used before); token and character ids
against hand-computed ones, and the character encoders that read them."""

import string

import numpy as np
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


def test_token_ids_against_hand_computed_ids():
    import tensorflow as tf

    from seqtasks.layers import TextTokenizer, TokenIds

    tokens = TextTokenizer(lowercase=False, split_punctuation=False)(
        tf.constant(["The  cat sat", ""]))
    assert tokens.numpy().tolist() == [[b"The", b"cat", b"sat"], [b"", b"", b""]]
    ids = TokenIds(["the", "cat"], ["T", "a", "c", "t"], max_word_chars=2)
    word_ids, char_ids = ids(tokens)
    # words: "" -> 0, OOV -> 1, the -> 2, cat -> 3; chars: T -> 2, a -> 3, c -> 4, t -> 5
    assert word_ids.numpy().tolist() == [[2, 3, 1], [0, 0, 0]]
    assert char_ids.numpy().tolist() == [[[2, 1], [4, 3], [1, 3]], [[0, 0]] * 3]
    cased = TokenIds(["the"], ["t"], lowercase=False)
    assert cased(tf.constant([["The", "the"]]))[0].numpy().tolist() == [[1, 2]]


@pytest.mark.parametrize("kind", ["rnn", "cnn"])
def test_character_features_ignore_character_padding_and_round_trip(kind, tmp_path):
    import keras

    from seqtasks.layers import CHARACTER_ENCODERS

    encoder = CHARACTER_ENCODERS[kind](10, 4, 3)
    short = np.array([[[2, 3, 0], [0, 0, 0]]])
    padded = np.array([[[2, 3, 0, 0, 0, 0], [4, 5, 6, 7, 8, 9]]])
    a, b = np.asarray(encoder(short)), np.asarray(encoder(padded))
    np.testing.assert_allclose(a[0, 0], b[0, 0], atol=1e-6)
    assert (a[0, 1] == 0).all() and np.abs(b[0, 1]).sum() > 0
    np.testing.assert_array_equal(np.asarray(encoder.compute_mask(padded)), [[True, True]])
    inputs = keras.Input((None, None), dtype="int32")
    model = keras.Model(inputs, encoder(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(padded)), b, atol=1e-6)
