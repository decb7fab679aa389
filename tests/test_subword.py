"""The subword tokenizer: SentencePiece learned from a stream, TF Text in the graph, exact
detokenizing, serialization, and two models in one SavedModel. Each recipe's subword
configuration is checked end to end by the contract (tests/test_recipe_contract.py VARIANTS)."""

import numpy as np
import pytest

import seqtasks

TRAIN = ["Ein Mann fährt mit dem Fahrrad.", "Zwei Hunde spielen im Schnee!",
         "Eine Frau liest ein Buch im Park.", "Kinder spielen Fußball auf der Straße."]


@pytest.fixture(scope="module")
def tokenizer():
    from seqtasks.layers import TextTokenizer

    t = TextTokenizer(level="subword", name="subwords")
    t.learn_subwords((s for s in TRAIN * 40), 60)  # a generator: read once
    return t


def test_pieces_spell_unseen_words_and_detokenize_exactly(tokenizer):
    import tensorflow as tf

    from seqtasks.layers import detokenize

    texts = ["Ein Hund spielt im Park.", "Fahrradfahrer lesen Bälle!"]  # unseen words
    pieces = tokenizer(tf.constant(texts)).numpy()
    first = [p.decode() for p in pieces[0] if p]
    assert first[0].startswith("\u2581") and len(first) > len(texts[0].split())
    # every piece of an unseen word made of seen characters is a piece of the model
    import base64

    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_proto=base64.b64decode(
        tokenizer.subword_model))
    known = {sp.id_to_piece(i) for i in range(sp.get_piece_size())}
    assert {p.decode() for row in pieces for p in row if p} <= known
    # back to the text as the tokenizer normalises it (lowercased), word for word
    assert detokenize(tf.constant(pieces), "subword").numpy().tolist() == [
        t.lower().encode() for t in texts]


def test_keras_serialization_keeps_the_model(tokenizer):
    import keras
    import tensorflow as tf

    config = keras.layers.serialize(tokenizer)
    assert isinstance(config["config"]["subword_model"], str)  # base64: JSON-safe
    copy = keras.layers.deserialize(config)
    text = tf.constant(["Zwei Frauen fahren Fahrrad."])
    assert copy(text).numpy().tolist() == tokenizer(text).numpy().tolist()


def test_two_models_in_one_saved_model_stay_apart(tokenizer, tmp_path):
    """TF Text names no model resource; without seqtasks' names both tokenizers of a loaded
    SavedModel tokenize with one model."""
    import tensorflow as tf

    from seqtasks.export import load_saved_model
    from seqtasks.layers import TextTokenizer

    english = TextTokenizer(level="subword", name="english")
    english.learn_subwords(["a man rides a bike", "two dogs play in the snow"] * 40, 40)

    class Both(tf.Module):
        def __init__(self):
            self.german, self.english = tokenizer, english

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def split(self, text):
            return {"german": self.german(text), "english": self.english(text)}

    module = Both()
    text = tf.constant(["two men ride im Park"])
    expected = {k: v.numpy().tolist() for k, v in module.split(text).items()}
    assert expected["german"] != expected["english"]
    tf.saved_model.save(module, str(tmp_path / "both"), signatures={"serving_default":
                                                                    module.split})
    loaded = load_saved_model(tmp_path / "both").signatures["serving_default"]
    assert {k: v.numpy().tolist() for k, v in loaded(text).items()} == expected


def test_spooled_examples_are_read_once_and_replayed():
    from seqtasks.layers import subword

    read = []

    def stream():
        for i in range(5):
            read.append(i)
            yield {"n": i, "text": np.str_(f"t{i}")}

    with subword.spooled(stream()) as examples:
        assert len(examples) == 5 and read == list(range(5))
        assert [e["n"] for e in examples] == [e["n"] for e in examples] == list(range(5))


def test_an_unlearned_tokenizer_and_old_key_names_fail_clearly():
    import tensorflow as tf

    from seqtasks.layers import TextTokenizer

    with pytest.raises(RuntimeError, match="subword model is not learned yet"):
        TextTokenizer(level="subword")(tf.constant(["a"]))
    recipe = seqtasks.get_recipe("translation")
    with pytest.raises(seqtasks.errors.ConfigError,
                       match="unknown key 'data.source_level' .it was renamed "
                             "'data.source_tokenizer'"):
        recipe.default_config(["data.source_level=char"])


def test_language_model_pieces_keep_line_ends_and_spell_the_text_back():
    import tensorflow as tf

    from seqtasks.recipes.base import Example
    from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor

    p = LanguageModelPreprocessor("subword", subwords=(60, "unigram"), line_ends="token")
    p.adapt(Example(line + "\n", None, f"t.txt:{i}") for i, line in enumerate(TRAIN * 30, 1))
    text = "Zwei Hunde spielen.\nEin Mann liest\n"
    pieces = [t.decode() for t in p.tokenize(tf.constant([text])).flat_values.numpy()]
    assert pieces.count("<eos>") == 2 and "<eos>" in p.vocabulary  # one piece, never split
    assert pieces[0].startswith("\u2581") and len(pieces) > len(text.split()) + 2
    ids, lengths = p({"prompt": tf.constant([text])})
    assert p.detokenize(ids, lengths).numpy()[0].decode() == " " + text
    assert p.continued(tf.constant(["Zwei"]), ids[:, 1:3], tf.constant([2])).numpy()[0] == (
        "Zwei" + "".join(pieces[1:3]).replace("\u2581", " ")).encode()


def test_tagging_reads_each_word_as_its_pieces_and_tags_words():
    """A word is the mean of its pieces' embeddings (NumPy reference), its piece ids are
    SentencePiece's own split, and a word training never saw is made of known pieces."""
    import base64

    import keras
    import sentencepiece
    import tensorflow as tf

    from seqtasks.layers import PieceEmbedding
    from seqtasks.recipes.base import Example
    from seqtasks.recipes.tagging.preprocessor import TaggingPreprocessor

    p = TaggingPreprocessor(tokenizer="subword", subwords=(60, "unigram"))
    sentences = [s.split() for s in TRAIN]
    p.adapt(Example(words, ["X"] * len(words), f"t.conll:{i}")
            for i, words in enumerate(sentences * 30, 1))
    sp = sentencepiece.SentencePieceProcessor(
        model_proto=base64.b64decode(p.pieces.subword_model))
    text = "Zwei Fahrradfahrer spielen"  # "fahrradfahrer" was never a training word
    word_ids, char_ids = p({"text": tf.constant([text, "Ein"])})
    assert word_ids.shape[:2] == char_ids.shape[:2] == (2, 3)
    vocabulary = ["", "[UNK]", *p.words]
    for word, ids in zip(text.lower().split(), word_ids.numpy()[0]):
        assert [vocabulary[i] for i in ids if i] == sp.encode(word, out_type=str)
    assert (word_ids.numpy()[0] != 1).all() and (word_ids.numpy()[1, 1:] == 0).all()
    assert p.oov_fraction([Example(text.split(), None, "x")]) == 0.0
    # the counts are those of the pieces in the training words
    piece, count = p.words[0], p.counts[0]
    assert count == sum(sp.encode(w.lower(), out_type=str).count(piece)
                        for words in sentences * 30 for w in words)

    embed = PieceEmbedding(len(vocabulary), 4)
    vectors = embed(word_ids).numpy()
    table = embed.embedding.embeddings.numpy()
    ids = word_ids.numpy()
    for b in range(2):
        for s in range(3):
            real = ids[b, s][ids[b, s] > 0]
            expected = table[real].mean(axis=0) if len(real) else np.zeros(4)
            np.testing.assert_allclose(vectors[b, s], expected, rtol=1e-6, atol=1e-7)
    assert embed.compute_mask(word_ids).numpy().tolist() == [[True] * 3, [True, False, False]]
    copy = keras.layers.deserialize(keras.layers.serialize(p))
    assert (copy({"text": tf.constant([text])})[0].numpy() == ids[:1]).all()
