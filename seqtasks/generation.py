"""In-graph text generation and stream scoring for language models.

A language model here is ``Embedding -> recurrent layers -> PredictionHead`` (the layers are
found by type, in a model or in the layers nested in it), with its
:class:`~seqtasks.recipes.language_model.preprocessor.LanguageModelPreprocessor` in front. The
functions below are stateless and graph-friendly, so they become export signatures:

* :func:`continuation`: prompt ids -> continuation ids, the prompt read by the same cells, then
  tokens drawn by :class:`~seqtasks.decoding.SamplingDecoder`; :class:`TextGenerator` is it as
  a layer (the language model's inference network) and :func:`generator` with the
  preprocessor around it (prompts -> the prompt and its continuation);
* :func:`chunk_scorer`: a chunk of a token stream and the recurrent state it starts from ->
  the summed log-likelihood of its tokens after the first, how many of them are the most
  probable token, and the state after the chunk; called chunk after chunk it scores a long
  text exactly as one pass over it.
"""

from typing import NamedTuple

import keras

from seqtasks.errors import ConfigError, DataError


class Parts(NamedTuple):
    preprocessor: object
    embedding: object
    rnns: list
    head: object


def parts(model):
    """The :class:`Parts` of a language model (``preprocessor`` None where it has none)."""
    from seqtasks.layers import PredictionHead
    from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor

    def flat(model):  # in call order, into nested models and a TextGenerator's reader
        for layer in model.layers:
            inner = layer.reader if isinstance(layer, TextGenerator) else layer
            yield from flat(inner) if isinstance(inner, keras.Model) else (layer,)

    layers = list(flat(model))

    def of(kind):
        return [layer for layer in layers if isinstance(layer, kind)]

    return Parts(next(iter(of(LanguageModelPreprocessor)), None),
                 of(keras.layers.Embedding)[0], of(keras.layers.RNN), of(PredictionHead)[0])


def _state_sizes(rnn):
    sizes = rnn.cell.state_size
    return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]


def zero_states(rnns, batch):
    import tensorflow as tf

    return [[tf.zeros([batch, size]) for size in _state_sizes(rnn)] for rnn in rnns]


def continuation(model, ids, lengths, length, temperature, top_k, seed):
    """``(tokens [B, length] int32, lengths [B] int32)``: what the language model ``model``
    (see :func:`parts`) draws after each prompt, ``ids [B, T]`` of which the first
    ``lengths`` count (each row has at least one more id after them)."""
    import tensorflow as tf

    from seqtasks.decoding import SamplingDecoder

    _, embedding, rnns, head = parts(model)
    size = head.num_outputs
    never = tf.one_hot(UNKNOWN_ID, size, on_value=-1e9, off_value=0.0)  # never drawn

    def cell_step(ids, states):
        x = tf.gather(embedding.embeddings, ids)
        new_states = []
        for rnn, state in zip(rnns, states):
            x, new = rnn.cell(x, state, training=False)
            new_states.append(list(new))
        return x, new_states

    batch = tf.shape(ids)[0]
    # read the prompt except its last token, row by row up to its own length
    last = tf.maximum(lengths - 1, 0)

    def read(t, states):
        _, new = cell_step(ids[:, t], states)
        keep = t < last
        return t + 1, tf.nest.map_structure(lambda n, o: tf.where(keep[:, None], n, o),
                                            new, states)

    _, states = tf.while_loop(lambda t, s: t < tf.shape(ids)[1] - 2, read,
                              (tf.constant(0), zero_states(rnns, batch)))

    def step(tokens, state, constants, time):
        h, new = cell_step(tokens, state)
        return tf.math.log(tf.maximum(head(h), 1e-12)) + never, new

    decoder = SamplingDecoder(temperature=temperature, top_k=top_k, seed=seed)
    tokens, out_lengths, _ = decoder(step, states, (), tf.gather(ids, last, batch_dims=1),
                                     0, tf.fill([batch], length))
    return tokens, out_lengths


#: The unknown token's id, never generated (see LanguageModelPreprocessor).
UNKNOWN_ID = 0


def generator(model):
    """``generate(prompt [B] str, length, temperature, top_k, seed) -> text [B] str``: the
    prompt and its :func:`continuation`, with ``model``'s preprocessor around it."""
    p = parts(model).preprocessor

    def generate(prompt, length, temperature, top_k, seed):
        ids, lengths = p.prompt_ids(prompt)
        tokens, out_lengths = continuation(model, ids, lengths, length, temperature, top_k,
                                           seed)
        return p.continued(prompt, tokens, out_lengths)

    return generate


@keras.saving.register_keras_serializable(package="seqtasks")
class TextGenerator(keras.layers.Layer):
    """A language model as a layer that generates: ``(ids [B, T], lengths [B])`` of prompts
    (what :class:`~seqtasks.recipes.language_model.preprocessor.LanguageModelPreprocessor` gives) ->
    ``(tokens [B, length], lengths [B])``, the :func:`continuation` of each prompt.

    Args:
        reader: A stateless language model (``Embedding -> recurrent layers returning their
            states -> PredictionHead``), or its serialized config.
        length: Tokens drawn after each prompt.
        temperature: Sampling temperature; 0 picks the most probable token.
        top_k: Sample among the ``top_k`` most probable tokens; 0: all.
        seed: Seed of the draws (the same seed gives the same text anywhere).
    """

    def __init__(self, reader, length=200, temperature=0.8, top_k=0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.reader = keras.saving.deserialize_keras_object(reader) \
            if isinstance(reader, dict) else reader
        self.length, self.temperature, self.top_k, self.seed = length, temperature, top_k, seed

    def call(self, inputs):
        ids, lengths = inputs
        return continuation(self.reader, ids, lengths, self.length, float(self.temperature),
                            self.top_k, self.seed)

    def compute_output_spec(self, inputs):
        batch = inputs[0].shape[:1]
        return (keras.KerasTensor((*batch, None), dtype="int32"),
                keras.KerasTensor(batch, dtype="int32"))

    def get_config(self):
        return {**super().get_config(), "reader": keras.saving.serialize_keras_object(self.reader),
                "length": self.length, "temperature": self.temperature, "top_k": self.top_k,
                "seed": self.seed}


def chunk_scorer(model):
    """``score(tokens [B, T] str, state [B, S] float32) -> {"log_likelihood": [B] float64,
    "correct": [B] int32, "state": [B, S] float32}``: tokens ``1..T-1`` predicted from those
    before them, the recurrent layers starting from ``state`` (the flattened states of every
    layer; an empty ``[B, 0]`` state starts from zeros, at the beginning of a text) and
    returned after reading tokens ``0..T-2``, which is the state the next chunk (starting
    with token ``T-1``) needs. Needs recurrent layers that return their state."""
    import numpy as np
    import tensorflow as tf

    p, embedding, rnns, head = parts(model)
    sizes = [_state_sizes(rnn) for rnn in rnns]
    tiny = float(np.finfo(np.float32).tiny)

    def score(tokens, state):
        ids = p.token_ids(tokens)
        targets = ids[:, 1:]
        batch = tf.shape(ids)[0]
        state = tf.cond(tf.shape(state)[1] > 0, lambda: state,
                        lambda: tf.zeros([batch, sum(map(sum, sizes))]))
        flat = tf.split(state, [s for layer in sizes for s in layer], axis=1)
        x, new = embedding(ids[:, :-1]), []
        for rnn, size in zip(rnns, sizes):
            x, *states = rnn(x, initial_state=flat[:len(size)])
            flat, new = flat[len(size):], new + states
        probs = head(x)
        picked = tf.cast(tf.gather(probs, targets, batch_dims=2), tf.float64)
        best = tf.argmax(probs, axis=-1, output_type=tf.int32)
        return {"log_likelihood": tf.reduce_sum(tf.math.log(tf.maximum(picked, tiny)), axis=1),
                "correct": tf.reduce_sum(tf.cast(tf.equal(best, targets), tf.int32), axis=1),
                "state": tf.concat(new, axis=1)}

    return score


def signatures(model):
    """The export's ``generate`` (the sampling options as inputs) and ``score`` (a chunk of the
    token stream and the state it starts from, see :func:`chunk_scorer`) signatures."""
    import tensorflow as tf

    generate, score = generator(model), chunk_scorer(model)
    return {
        "generate": tf.function(
            lambda prompt, length, temperature, top_k, seed: {
                "text": generate(prompt, length, temperature, top_k, seed)},
            input_signature=[tf.TensorSpec([None], tf.string, name="prompt"),
                             tf.TensorSpec([], tf.int32, name="length"),
                             tf.TensorSpec([], tf.float32, name="temperature"),
                             tf.TensorSpec([], tf.int32, name="top_k"),
                             tf.TensorSpec([], tf.int32, name="seed")], autograph=False),
        "score": tf.function(score, autograph=False, input_signature=[
            tf.TensorSpec([None, None], tf.string, name="tokens"),
            tf.TensorSpec([None, None], tf.float32, name="state")])}


def check_generation(metadata, prompt, length, temperature, top_k, seed):
    """Validate ``seqtasks generate`` options against an export's metadata; returns the
    sampling options with the export's defaults filled in."""
    from seqtasks.recipes.language_model.preprocessor import split_tokens

    if length < 1:
        raise ConfigError(f"--length: expected a positive number of tokens, found {length}")
    defaults = metadata["generate"]
    options = {"temperature": defaults["temperature"] if temperature is None else temperature,
               "top_k": defaults["top_k"] if top_k is None else top_k,
               "seed": defaults["seed"] if seed is None else seed}
    if options["temperature"] < 0:
        raise ConfigError(f"--temperature: expected 0 (greedy) or a positive number, found "
                          f"{options['temperature']}")
    if options["top_k"] < 0:
        raise ConfigError(f"--top-k: expected 0 (all tokens) or a positive number, found "
                          f"{options['top_k']}")
    known = set(metadata["vocabulary"])
    pieces = split_tokens(prompt, metadata["level"], metadata["lowercase"],
                          metadata.get("line_ends", "ignore"), metadata.get("subword_model"))
    unseen = sorted({p for p in pieces if p not in known})
    if unseen:
        what = {"char": "character", "subword": "piece"}.get(metadata["level"], "word")
        shown = ", ".join(repr(p) for p in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
        raise DataError(f"--prompt: {what}{'s' if len(unseen) > 1 else ''} {shown} never seen "
                        f"in the training text (the model knows {len(known)} {what}s)")
    return options
