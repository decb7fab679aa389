"""captioning's preprocessor: target ids framed by the decoder's special ids, and its
configuration round trip."""


def test_preprocessor_owns_the_special_ids_and_round_trips():
    """Targets are framed by the decoder's start and end ids, unknown words get the unknown id,
    and get_config() carries the vocabulary."""
    import keras

    from seqtasks.layers.text_decoder import END_ID, START_ID
    from seqtasks.recipes.base import Example
    from seqtasks.recipes.captioning.preprocessor import CaptioningPreprocessor

    examples = [Example(b"", ["A red circle.", "a red square"], "x"),
                Example(b"", ["a blue circle"], "y")]
    p = CaptioningPreprocessor(min_count=1, max_length=3)
    p.adapt(examples)
    assert p.left_out == 1 and "." not in p.vocabulary
    copy = keras.layers.deserialize(keras.layers.serialize(p))
    assert copy.vocabulary == p.vocabulary and copy.vocabulary_size == p.vocabulary_size
    targets = copy.raw_targets([Example(b"", ["a green circle"], "z")]).to_list()
    ids = targets[0][0]
    assert ids[0] == START_ID and ids[-1] == END_ID and ids[2] == 1
    assert len(copy.training_targets(examples).to_list()[0]) == 1
    assert len(copy.raw_targets(examples).to_list()[0]) == 2
