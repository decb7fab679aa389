"""Sequence decoders (greedy and beam search) built from core TensorFlow ops only.

A decoder turns a *step function* into output sequences. The step function holds the model:

``step_fn(tokens, state, constants, time) -> (log_probs, new_state)``

- ``tokens``: int32 ``[N]``, the previous token of each hypothesis (the start token at time 0);
- ``state``: a nested structure (:mod:`tf.nest`) of tensors with leading dimension ``N`` that
  changes from step to step, e.g. the hidden state of a recurrent decoder;
- ``constants``: a nested structure of tensors with leading dimension ``N`` that never changes,
  e.g. the encoder outputs and the source mask;
- ``time``: int32 scalar, the index of the step (0 for the first generated token);
- ``log_probs``: float32 ``[N, V]``, log-probabilities of the next token.

``N`` is the batch size for :class:`GreedyDecoder` and batch size x beam width for
:class:`BeamSearchDecoder`. Either structure may be ``()`` (or ``None``) when not needed.

Decoding of an example stops when it emits ``end_id`` or when it has generated
``max_lengths[b]`` tokens (the end token is not counted against that limit, and it is not emitted
once the limit is reached); the loop stops as soon as every example has finished. Every decoder
returns ``(tokens, lengths, scores)``:

- ``tokens``: int32 ``[B, T]``, the generated tokens without the end token, padded with 0;
  ``T`` is the longest returned length in the batch (0 when nothing was generated);
- ``lengths``: int32 ``[B]``, the number of tokens before the end token;
- ``scores``: float32 ``[B]``, the sum of the log-probabilities of the emitted tokens, the end
  token included when it was emitted (beam search: divided by the length penalty, see
  :class:`BeamSearchDecoder`).

The time loop is one ``tf.while_loop`` (no Python loop over time, no ``tf.cond`` around it, no
tensorflow-addons), so the decoders work inside ``tf.function`` with an unknown batch size and
in graphs exported with ``tf.saved_model.save`` and served by stock TF Serving. The output
width is only known when the loop ends (the token history grows by one column per step), so
the decoders cannot be compiled with ``jit_compile=True``. ``end_id`` must be a token of the
vocabulary (``0 <= end_id < V``). Use :func:`get_decoder` to pick a decoder by name (e.g. from
a configuration file).
"""

import tensorflow as tf

__all__ = ["DECODERS", "BeamSearchDecoder", "Decoder", "GreedyDecoder", "SamplingDecoder",
           "get_decoder"]


def _map(fn, structure):
    return tf.nest.map_structure(fn, structure)


def _relaxed_shape(tensor):
    """The shape of ``tensor`` with an unknown leading dimension (a while-loop invariant)."""
    return tf.TensorShape([None]).concatenate(tensor.shape[1:])


def _to_tensors(structure):
    """``structure`` as tensors; ``None`` (no structure) becomes ``()``."""
    return () if structure is None else _map(tf.convert_to_tensor, structure)


def _append(history, tokens):
    """Appends the column ``tokens`` ``[N]`` to ``history`` ``[N, t]``."""
    return tf.concat([history, tokens[:, tf.newaxis]], axis=1)


def _trim(history, lengths):
    """``history[:, :max(lengths)]`` (0 columns for an empty batch)."""
    width = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], axis=0)), 0)
    return history[:, :width]


class Decoder:
    """Base class: ``decoder(step_fn, initial_state, constants, start_ids, end_id, max_lengths)``.

    Call arguments:
        step_fn: ``(tokens, state, constants, time) -> (log_probs, new_state)`` (see the
            module documentation; ``N`` rows per call).
        initial_state: nested structure of tensors with leading dimension ``B`` (or ``()``).
        constants: nested structure of tensors with leading dimension ``B`` (or ``()``).
        start_ids: int32 ``[B]``, the token fed at time 0.
        end_id: Python int or int32 scalar, the end-of-sequence token.
        max_lengths: int32 ``[B]``, the most tokens each example may generate before its end
            token.

    Returns ``(tokens, lengths, scores)``: int32 ``[B, T]`` (padded with 0, no end token),
    int32 ``[B]`` and float32 ``[B]``. Subclasses implement :meth:`__call__`.
    """

    def __call__(self, step_fn, initial_state, constants, start_ids, end_id, max_lengths):
        raise NotImplementedError

    def __repr__(self):
        options = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({options})"


class GreedyDecoder(Decoder):
    """Picks the most probable token at each step (the first one on ties).

    ``N = B`` rows per step; the score is the sum of the chosen tokens' log-probabilities, the
    end token included when emitted.
    """

    def __call__(self, step_fn, initial_state, constants, start_ids, end_id, max_lengths):
        start_ids = tf.convert_to_tensor(start_ids, tf.int32)
        end_id = tf.cast(end_id, tf.int32)
        max_lengths = tf.convert_to_tensor(max_lengths, tf.int32)
        state = _to_tensors(initial_state)
        constants = _to_tensors(constants)
        batch = tf.shape(start_ids)[0]

        def body(time, tokens, state, finished, lengths, scores, history):
            log_probs, new_state = step_fn(tokens, state, constants, time)
            log_probs = tf.cast(log_probs, tf.float32)
            chosen = self._choose(log_probs, time)
            chosen_log_prob = tf.gather(log_probs, chosen, batch_dims=1)
            live = tf.logical_not(finished)
            ends = tf.logical_and(live, tf.equal(chosen, end_id))
            emits = tf.logical_and(live, tf.logical_not(ends))  # a token that is kept
            scores += tf.where(live, chosen_log_prob, 0.0)
            lengths += tf.cast(emits, tf.int32)
            history = _append(history, tf.where(emits, chosen, 0))
            finished = finished | ends | (lengths >= max_lengths)
            tokens = tf.where(emits, chosen, end_id)
            return time + 1, tokens, new_state, finished, lengths, scores, history

        loop_vars = (
            tf.constant(0), start_ids, state, max_lengths <= 0, tf.zeros([batch], tf.int32),
            tf.zeros([batch], tf.float32), tf.zeros([batch, 0], tf.int32))
        invariants = (
            tf.TensorShape([]), tf.TensorShape([None]), _map(_relaxed_shape, state),
            tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([None]),
            tf.TensorShape([None, None]))
        _, _, _, _, lengths, scores, history = tf.while_loop(
            lambda time, tokens, state, finished, *_: tf.logical_not(tf.reduce_all(finished)),
            body, loop_vars, shape_invariants=invariants)
        return _trim(history, lengths), lengths, scores

    def _choose(self, log_probs, time):
        return tf.argmax(log_probs, axis=-1, output_type=tf.int32)


class SamplingDecoder(GreedyDecoder):
    """Draws each token from the model's distribution, sharpened or flattened by
    ``temperature`` (log-probabilities divided by it; 0 picks the most probable token, as
    :class:`GreedyDecoder`) and restricted to the ``top_k`` most probable tokens (0: all).
    Everything else, stopping and scores (the model's own log-probabilities of the drawn
    tokens), is :class:`GreedyDecoder`'s.

    ``seed`` makes the draws reproducible: step ``t`` uses the stateless seed ``(seed, t)``, so
    the same seed gives the same text in eager code, in a ``tf.function`` and in a SavedModel.
    All three options may be Python numbers or scalar tensors (e.g. signature inputs).
    """

    def __init__(self, temperature=1.0, top_k=0, seed=0):
        if isinstance(temperature, (int, float)) and not temperature >= 0:
            raise ValueError(f"temperature must be 0 (greedy) or positive, got {temperature!r}")
        if isinstance(top_k, int) and top_k < 0:
            raise ValueError(f"top_k must be 0 (all tokens) or positive, got {top_k!r}")
        self.temperature = temperature
        self.top_k = top_k
        self.seed = seed

    def _choose(self, log_probs, time):
        temperature = tf.cast(self.temperature, tf.float32)
        logits = log_probs / tf.maximum(temperature, 1e-6)
        if not (isinstance(self.top_k, int) and self.top_k == 0):
            size = tf.shape(logits)[-1]
            top_k = tf.cast(self.top_k, tf.int32)
            k = tf.where(top_k > 0, tf.minimum(top_k, size), size)
            kth = tf.math.top_k(logits, k=k).values[:, -1:]
            logits = tf.where(logits < kth, tf.constant(-1e9, tf.float32), logits)
        seed = tf.stack([tf.cast(self.seed, tf.int32), tf.cast(time, tf.int32)])
        sampled = tf.cast(tf.random.stateless_categorical(logits, 1, seed)[:, 0], tf.int32)
        return tf.where(temperature > 0, sampled, super()._choose(log_probs, time))


class BeamSearchDecoder(Decoder):
    """Beam search with the GNMT length penalty.

    Each example keeps ``beam_width`` hypotheses. At time 0 only its first beam is live, so no
    hypothesis is found twice. At each step every live hypothesis is extended by each of the
    ``V`` tokens, while a finished one (it emitted the end token or reached its maximum length)
    only carries over, with its score unchanged; the ``beam_width`` best of these
    ``beam_width * V`` candidates (``tf.math.top_k``) become the new beams. Candidates and
    final hypotheses are ranked by ``sum of log-probs / ((5 + length) / 6) ** length_penalty``
    where ``length`` counts the emitted tokens, the end token included (Wu et al., 2016,
    "Google's neural machine translation system"); ``length_penalty=0`` ranks by the plain sum.
    Decoding stops when every beam of every example has finished; a hypothesis that reached its
    maximum length without an end token counts as finished.

    ``initial_state`` and ``constants`` are repeated ``beam_width`` times once (``tf.repeat``
    on axis 0: rows ``b * beam_width`` to ``b * beam_width + beam_width - 1`` belong to example
    ``b``); after each step the new state is gathered by beam origin, and ``constants`` are
    never gathered.

    Args:
        beam_width: hypotheses kept per example (1: greedy decoding).
        length_penalty: the GNMT exponent ``alpha`` (>= 0); larger values favour longer
            outputs.

    ``N = B * beam_width`` rows per step; returns the best hypothesis of each example, with
    its length-penalised score.
    """

    def __init__(self, beam_width=4, length_penalty=0.6):
        if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
            raise ValueError(f"beam_width must be an integer >= 1, got {beam_width!r}")
        if isinstance(length_penalty, bool) or not isinstance(length_penalty, int | float) or not (
                length_penalty >= 0):
            raise ValueError(f"length_penalty must be a number >= 0, got {length_penalty!r}")
        self.beam_width = beam_width
        self.length_penalty = float(length_penalty)

    def _penalty(self, emitted):
        """GNMT length penalty ``((5 + emitted) / 6) ** alpha`` of int32 lengths."""
        return ((5.0 + tf.cast(emitted, tf.float32)) / 6.0) ** self.length_penalty

    def __call__(self, step_fn, initial_state, constants, start_ids, end_id, max_lengths):
        width = self.beam_width
        start_ids = tf.convert_to_tensor(start_ids, tf.int32)
        end_id = tf.cast(end_id, tf.int32)
        max_lengths = tf.convert_to_tensor(max_lengths, tf.int32)
        batch = tf.shape(start_ids)[0]
        rows = batch * width

        def repeat(tensor):
            return tf.repeat(tensor, width, axis=0)

        state = _map(repeat, _to_tensors(initial_state))
        constants = _map(repeat, _to_tensors(constants))
        max_lengths = repeat(max_lengths)
        # Row of the first beam of each example, to turn beam indices into flat row indices.
        first_rows = tf.range(batch)[:, tf.newaxis] * width
        inf = tf.constant(float("inf"))

        def body(time, tokens, state, scores, finished, ended, lengths, history):
            log_probs, new_state = step_fn(tokens, state, constants, time)
            log_probs = tf.cast(log_probs, tf.float32)
            vocab = tf.shape(log_probs)[1]
            # A finished hypothesis has one continuation, the end token, at no cost.
            carry_over = tf.where(tf.equal(tf.range(vocab), end_id), 0.0, -inf)
            extension = tf.where(finished[:, tf.newaxis], carry_over[tf.newaxis], log_probs)
            totals = scores[:, tf.newaxis] + extension  # [rows, V]
            emitted = lengths + tf.cast(ended, tf.int32)
            new_emitted = emitted + tf.cast(tf.logical_not(finished), tf.int32)
            ranks = totals / self._penalty(new_emitted)[:, tf.newaxis]
            _, best = tf.math.top_k(tf.reshape(ranks, [batch, width * vocab]), k=width)
            origins = tf.reshape(first_rows + best // vocab, [-1])  # flat rows [rows]
            chosen = tf.reshape(best % vocab, [-1])
            scores = tf.gather(tf.reshape(totals, [batch, width * vocab]), best, batch_dims=1)
            scores = tf.reshape(scores, [-1])

            was_finished = tf.gather(finished, origins)
            ends = tf.logical_not(was_finished) & tf.equal(chosen, end_id)
            emits = tf.logical_not(was_finished | ends)  # a token that is kept
            state = _map(lambda tensor: tf.gather(tensor, origins), new_state)
            history = _append(tf.gather(history, origins), tf.where(emits, chosen, 0))
            ended = tf.gather(ended, origins) | ends
            lengths = tf.gather(lengths, origins) + tf.cast(emits, tf.int32)
            # A hypothesis scored -inf can never win: it is finished too (so is a surplus beam
            # when the vocabulary offers fewer than beam_width candidates).
            finished = (was_finished | ends | (lengths >= max_lengths)
                        | tf.equal(scores, -inf))
            tokens = tf.where(emits, chosen, end_id)
            return time + 1, tokens, state, scores, finished, ended, lengths, history

        first_beam = tf.tile(tf.one_hot(0, width, on_value=0.0, off_value=-inf), [batch])
        loop_vars = (
            tf.constant(0), repeat(start_ids), state, first_beam, max_lengths <= 0,
            tf.zeros([rows], tf.bool), tf.zeros([rows], tf.int32), tf.zeros([rows, 0], tf.int32))
        vector = tf.TensorShape([None])
        invariants = (tf.TensorShape([]), vector, _map(_relaxed_shape, state), vector, vector,
                      vector, vector, tf.TensorShape([None, None]))
        _, _, _, scores, _, ended, lengths, history = tf.while_loop(
            lambda time, tokens, state, scores, finished, *_: tf.logical_not(
                tf.reduce_all(finished)),
            body, loop_vars, shape_invariants=invariants)

        emitted = lengths + tf.cast(ended, tf.int32)
        final = tf.reshape(scores / self._penalty(emitted), [batch, width])
        best = tf.argmax(final, axis=1, output_type=tf.int32)
        rows_out = tf.range(batch) * width + best
        lengths = tf.gather(lengths, rows_out)
        tokens = _trim(tf.gather(history, rows_out), lengths)
        return tokens, lengths, tf.gather(final, best, batch_dims=1)


DECODERS = {"greedy": GreedyDecoder, "beam": BeamSearchDecoder, "sample": SamplingDecoder}


def get_decoder(name, **options):
    """A new decoder ``DECODERS[name](**options)``; e.g. ``get_decoder("beam", beam_width=8)``.

    Raises:
        ValueError: ``name`` is not one of :data:`DECODERS`, or an option is out of range.
    """
    try:
        cls = DECODERS[name]
    except (KeyError, TypeError):
        choices = ", ".join(sorted(DECODERS))
        raise ValueError(f"unknown decoder {name!r}; choose one of: {choices}") from None
    return cls(**options)
