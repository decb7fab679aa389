"""Greedy and beam-search decoding against NumPy references: brute force over every sequence,
a plain-Python greedy loop and a plain-Python beam search, and hand arithmetic; and decoding in
the translation recipe's seq2seq model, whose translations and scores padding never changes."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from tiny_data import tiny_translation, write_tsv

from seqtasks.decoding import (
    DECODERS,
    BeamSearchDecoder,
    GreedyDecoder,
    SamplingDecoder,
    get_decoder,
)

V = 5  # tokens 0..4
END = 1  # 0 is a real token here, so that padding (0) can only be told apart by the lengths
WORDS = [t for t in range(V) if t != END]
# With max length 3, every hypothesis fits in the beam: 1 + 4 + 16 ended, 64 at the limit.
EVERY_HYPOTHESIS = 1 + 4 + 16 + 64


def log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def random_table(seed, sharpness=2.0):
    """Log-probabilities of the next token (columns) given the previous one (rows)."""
    return log_softmax(sharpness * np.random.default_rng(seed).normal(size=(V, V)))


# A bigram "language model" on which greedy decoding misses the best sequence (checked below).
TABLE = random_table(1)


def table_step(table):
    table = tf.constant(table, tf.float32)

    def step(tokens, state, constants, time):
        return tf.gather(table, tokens), state

    return step


def table_reference(table):
    return lambda history: table[history[-1]]


# A trigram model: the next-token distribution depends on the token before the previous one,
# which only the state remembers, so a hypothesis given another one's state goes astray. The
# state also counts the steps (nested, two dtypes); the step index and, when given, a
# per-example bias from the constants enter too.
TRIGRAM = np.stack([random_table(seed, sharpness=1.0) for seed in range(50, 50 + V)])
END_BIAS, END_BONUS, TIME_BONUS = -2.0, 0.5, 0.3


def stateful_step(tokens, state, constants, time):
    count = state["count"][0] + 1.0
    logits = (tf.gather_nd(tf.constant(TRIGRAM, tf.float32),
                           tf.stack([state["before"], tokens], axis=1))
              + (END_BIAS + END_BONUS * count[:, None]) * tf.one_hot(END, V)
              + TIME_BONUS * tf.cast(time, tf.float32) * tf.one_hot(2, V))
    if constants:
        logits += constants["bias"]
    return tf.nn.log_softmax(logits), {"before": tokens, "count": (count,)}


def stateful_state(batch):
    return {"before": tf.zeros([batch], tf.int32), "count": (tf.zeros([batch]),)}


def stateful_reference(bias=None, before=0, count=0.0):
    """Log-probs of the next token after ``history`` (start token first) from a given state."""

    def log_probs(history):
        logits = TRIGRAM[history[-2] if len(history) > 1 else before, history[-1]].copy()
        logits[END] += END_BIAS + END_BONUS * (count + len(history))
        logits[2] += TIME_BONUS * (len(history) - 1)
        return log_softmax(logits + (0 if bias is None else bias))

    return log_probs


def penalty(emitted, alpha):
    return ((5 + emitted) / 6) ** alpha


def score_of(log_probs, start, tokens, max_length):
    """Sum of log-probs of ``tokens`` then the end token (not emitted at the length limit)."""
    history, total = [start], 0.0
    for token in tokens:
        total += log_probs(history)[token]
        history.append(token)
    if len(tokens) < max_length:
        return total + log_probs(history)[END], len(tokens) + 1
    return total, len(tokens)


def brute_force(log_probs, start, max_length, alpha=0.0):
    """(tokens, penalised score) of the best of all sequences, by enumeration."""
    best = None
    for n in range(max_length + 1):
        for tokens in itertools.product(WORDS, repeat=n):
            total, emitted = score_of(log_probs, start, tokens, max_length)
            ranked = total / penalty(emitted, alpha)
            if best is None or ranked > best[1]:
                best = (list(tokens), ranked)
    return best


def greedy_reference(log_probs, start, max_length):
    history, total = [start], 0.0
    while len(history) - 1 < max_length:
        row = log_probs(history)
        token = int(np.argmax(row))
        total += row[token]
        if token == END:
            break
        history.append(token)
    return history[1:], total


def beam_reference(log_probs, start, max_length, width, alpha):
    """Beam search over Python lists: beams are (score, tokens, ended, finished)."""
    beams = [(0.0 if k == 0 else -math.inf, [], False, max_length <= 0) for k in range(width)]
    while not all(beam[3] for beam in beams):
        candidates = []  # (rank, position among the width * V candidates, new beam)
        for k, (score, tokens, ended, finished) in enumerate(beams):
            if finished:
                emitted = len(tokens) + ended
                candidates.append((score / penalty(emitted, alpha), k * V + END, beams[k]))
                continue
            row = log_probs([start, *tokens])
            for token in range(V):
                total = score + row[token]
                if token == END:
                    new = (total, tokens, True, True)
                else:
                    new = (total, tokens + [token], False, len(tokens) + 1 >= max_length)
                candidates.append((total / penalty(len(tokens) + 1, alpha), k * V + token, new))
        candidates.sort(key=lambda c: (-c[0], c[1]))
        beams = [c[2] for c in candidates[:width]]
    ranks = [score / penalty(len(tokens) + ended, alpha) for score, tokens, ended, _ in beams]
    best = int(np.argmax(ranks))
    return beams[best][1], ranks[best]


def decode(decoder, step, state, constants, start_ids, max_lengths, end_id=END):
    tokens, lengths, scores = decoder(step, state, constants, tf.constant(start_ids, tf.int32),
                                      end_id, tf.constant(max_lengths, tf.int32))
    assert tokens.dtype == tf.int32 and lengths.dtype == tf.int32 and scores.dtype == tf.float32
    return tokens.numpy(), lengths.numpy(), scores.numpy()


def hypotheses(tokens, lengths):
    """Token lists, checking the padding: zeros after each length, and no empty columns."""
    assert tokens.shape == (len(lengths), max(lengths, default=0))
    for row, length in zip(tokens, lengths):
        assert not row[length:].any()
    return [row[:length].tolist() for row, length in zip(tokens, lengths)]


def test_beam_search_finds_the_brute_force_best_where_greedy_does_not():
    starts, max_lengths = [0, 2, 3, 4, 0], [3, 3, 3, 3, 2]
    reference = table_reference(TABLE)
    beam = decode(BeamSearchDecoder(EVERY_HYPOTHESIS, length_penalty=0.0), table_step(TABLE),
                  (), (), starts, max_lengths)
    greedy = decode(GreedyDecoder(), table_step(TABLE), (), (), starts, max_lengths)
    greedy_missed = 0
    for b, (start, max_length) in enumerate(zip(starts, max_lengths)):
        best, best_score = brute_force(reference, start, max_length)
        assert hypotheses(*beam[:2])[b] == best
        assert beam[2][b] == pytest.approx(best_score, abs=1e-5)
        expected, expected_score = greedy_reference(reference, start, max_length)
        assert hypotheses(*greedy[:2])[b] == expected
        assert greedy[2][b] == pytest.approx(expected_score, abs=1e-5)
        greedy_missed += expected_score < best_score - 0.05
    assert greedy_missed >= 2  # the table makes greedy decoding suboptimal


def test_beam_width_one_is_greedy():
    starts, max_lengths = [0, 2, 3, 4], [6, 5, 1, 7]
    for step, state in ((table_step(TABLE), ()), (stateful_step, stateful_state(4))):
        greedy = decode(GreedyDecoder(), step, state, (), starts, max_lengths)
        beam = decode(BeamSearchDecoder(1, length_penalty=0.0), step, state, (), starts,
                      max_lengths)
        np.testing.assert_array_equal(beam[0], greedy[0])
        np.testing.assert_array_equal(beam[1], greedy[1])
        np.testing.assert_allclose(beam[2], greedy[2], atol=1e-5)
        # With a length penalty only the reported score changes.
        penalised = decode(BeamSearchDecoder(1, length_penalty=0.6), step, state, (), starts,
                           max_lengths)
        np.testing.assert_array_equal(penalised[0], greedy[0])
        emitted = greedy[1] + (greedy[1] < max_lengths)
        np.testing.assert_allclose(penalised[2], greedy[2] / penalty(emitted, 0.6), atol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_state_is_gathered_by_beam_origin(alpha):
    starts, short, long = [0, 2, 3, 4], [3, 3, 3, 2], [5, 4, 6, 5]
    reference = stateful_reference()
    # Wide enough to keep every hypothesis: exact, so it must match the brute force.
    wide = decode(BeamSearchDecoder(EVERY_HYPOTHESIS, length_penalty=alpha), stateful_step,
                  stateful_state(4), (), starts, short)
    for b, (start, max_length) in enumerate(zip(starts, short)):
        best, best_score = brute_force(reference, start, max_length, alpha)
        assert hypotheses(*wide[:2])[b] == best
        assert wide[2][b] == pytest.approx(best_score, abs=1e-5)
    # Narrow beams prune: they must match a beam search written over Python lists.
    for width in (2, 3):
        narrow = decode(BeamSearchDecoder(width, length_penalty=alpha), stateful_step,
                        stateful_state(4), (), starts, long)
        for b, (start, max_length) in enumerate(zip(starts, long)):
            expected, expected_score = beam_reference(reference, start, max_length, width, alpha)
            assert hypotheses(*narrow[:2])[b] == expected
            assert narrow[2][b] == pytest.approx(expected_score, abs=1e-5)
    greedy = decode(GreedyDecoder(), stateful_step, stateful_state(4), (), starts, long)
    for b, (start, max_length) in enumerate(zip(starts, long)):
        expected, expected_score = greedy_reference(reference, start, max_length)
        assert hypotheses(*greedy[:2])[b] == expected
        assert greedy[2][b] == pytest.approx(expected_score, abs=1e-5)


def test_constants_and_max_lengths_are_per_example():
    # Each example has its own bias and initial state: the batch must decode as three separate
    # batches of one, and as the NumPy model of each example says.
    biases = np.array([[0, -3, 2, 0, 0], [0, -6, 0, 3, 0], [1, 2, 0, 0, 0]], np.float32)
    befores, counts = [2, 4, 3], [0.0, 1.0, 2.0]
    starts, max_lengths = [0, 2, 2], [4, 1, 0]

    def initial_state(rows):
        return {"before": tf.constant(befores[rows], tf.int32),
                "count": (tf.constant(counts[rows], tf.float32),)}

    seen = []

    def step(tokens, state, constants, time):
        seen.append(constants["bias"].shape[0] == tokens.shape[0])
        return stateful_step(tokens, state, constants, time)

    for decoder in (GreedyDecoder(), BeamSearchDecoder(3, length_penalty=0.6)):
        batch = decode(decoder, step, initial_state(slice(None)), {"bias": tf.constant(biases)},
                       starts, max_lengths, end_id=tf.constant(END))
        found = hypotheses(*batch[:2])
        for b in range(3):
            alone = decode(decoder, step, initial_state(slice(b, b + 1)),
                           {"bias": tf.constant(biases[b:b + 1])}, starts[b:b + 1],
                           max_lengths[b:b + 1])
            assert found[b] == hypotheses(*alone[:2])[0]
            assert batch[2][b] == pytest.approx(alone[2][0], abs=1e-5)
            reference = stateful_reference(biases[b], befores[b], counts[b])
            total, emitted = score_of(reference, starts[b], found[b], max_lengths[b])
            alpha = getattr(decoder, "length_penalty", 0.0)
            assert batch[2][b] == pytest.approx(total / penalty(emitted, alpha), abs=1e-5)
        assert list(batch[1]) == [4, 1, 0]  # the bias on the end token keeps it unlikely
        assert batch[2][2] == 0.0  # nothing generated, nothing scored
    assert all(seen)


def test_length_penalty_changes_the_winner():
    # Tokens: 0 end, 1 "a", 2 "b", 3 start. From the start: end 0.4, a 0.6; after a: end 0.6.
    table = np.log(np.array([[1 / 3] * 3 + [1e-9],
                             [0.6, 0.3, 0.1, 1e-9],
                             [1 / 3] * 3 + [1e-9],
                             [0.4, 0.6, 1e-9, 1e-9]]))
    step = table_step(table)
    # [end]: log 0.4 = -0.916, 1 token emitted, penalty (6/6)^alpha = 1.
    # [a, end]: log 0.36 = -1.022, 2 emitted, penalty (7/6)^alpha: 1.097 for 0.6, 7/6 for 1.
    # alpha 0.6: -1.022 / 1.097 = -0.932 < -0.916; alpha 1: -1.022 * 6/7 = -0.876 > -0.916.
    for alpha, expected, score in ((0.0, [], math.log(0.4)), (0.6, [], math.log(0.4)),
                                   (1.0, [1], math.log(0.6 * 0.6) * 6 / 7)):
        tokens, lengths, scores = decode(BeamSearchDecoder(2, length_penalty=alpha), step,
                                         (), (), [3], [2], end_id=0)
        assert hypotheses(tokens, lengths) == [expected]
        assert scores[0] == pytest.approx(score, abs=1e-6)
    assert scores[0] == pytest.approx(-0.8757, abs=1e-4)
    tokens, lengths, scores = decode(GreedyDecoder(), step, (), (), [3], [2], end_id=0)
    assert hypotheses(tokens, lengths) == [[1]] and scores[0] == pytest.approx(math.log(0.36))


def test_length_penalty_ranks_during_the_search():
    # Same tokens. From the start: end 0.36, a 0.64; after a: end 0.49, b 0.49; after b: end 0.99.
    table = np.log(np.array([[1 / 3] * 3 + [1e-9],
                             [0.49, 0.02, 0.49, 1e-9],
                             [0.99, 0.005, 0.005, 1e-9],
                             [0.36, 0.64, 1e-9, 1e-9]]))
    # alpha 1, two beams. Step 0 keeps [a] (log 0.64) and [end] (log 0.36 = -1.022, final).
    # Step 1: [a, end] and [a, b] have log 0.3136 = -1.160, below [end] but above it once
    # divided by 7/6: -0.994 > -1.022, so [end] is dropped. (Ranked by raw sums, [end] and
    # [a, end] would be kept, both final, and [a, end] would win.)
    # Step 2: [a, b, end]: log(0.64 * 0.49 * 0.99) = -1.170, divided by 8/6: -0.877, the best.
    tokens, lengths, scores = decode(BeamSearchDecoder(2, length_penalty=1.0), table_step(table),
                                     (), (), [3], [3], end_id=0)
    assert hypotheses(tokens, lengths) == [[1, 2]]
    assert scores[0] == pytest.approx(math.log(0.64 * 0.49 * 0.99) * 6 / 8, abs=1e-6)
    assert scores[0] == pytest.approx(-0.8772, abs=1e-4)


def test_empty_outputs_and_batch_of_one():
    # Nothing may be generated: zero columns, zero lengths, zero scores.
    for decoder in (GreedyDecoder(), BeamSearchDecoder(3)):
        tokens, lengths, scores = decode(decoder, table_step(TABLE), (), (), [0, 2], [0, 0])
        assert tokens.shape == (2, 0) and not lengths.any() and not scores.any()
    # Every example ends at once: zero columns, but the end token is scored.
    ends_first = np.log(np.full((V, V), 0.1))
    ends_first[:, END] = np.log(0.6)
    for decoder in (GreedyDecoder(), BeamSearchDecoder(3, length_penalty=0.6)):
        tokens, lengths, scores = decode(decoder, table_step(ends_first), None, None, [0], [4])
        assert tokens.shape == (1, 0) and lengths.tolist() == [0]
        assert scores[0] == pytest.approx(math.log(0.6), abs=1e-6)  # penalty of 1 token: 1


class Exported(tf.Module):
    """Decodes from start ids alone: the bias and the max lengths derive from them."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder
        self.bias = tf.Variable(np.random.default_rng(5).normal(size=(V, V)), dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def __call__(self, start_ids):
        batch = tf.shape(start_ids)[0]
        constants = {"bias": tf.gather(self.bias, start_ids)}
        tokens, lengths, scores = self.decoder(stateful_step, stateful_state(batch), constants,
                                               start_ids, END, 2 + start_ids % 3)
        return {"tokens": tokens, "lengths": lengths, "scores": scores}


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_unknown_batch_size_and_saved_model(tmp_path, name):
    # sampling restricted to the single most probable token is greedy decoding
    module = Exported(get_decoder(name, **({"top_k": 1} if name == "sample" else {})))
    traced = module.__call__.get_concrete_function()
    assert traced.structured_outputs["tokens"].shape.as_list() == [None, None]
    tf.saved_model.save(module, str(tmp_path / "decoder"))
    loaded = tf.saved_model.load(str(tmp_path / "decoder"))
    bias = module.bias.numpy()
    for starts in ([0, 2, 4, 3], [3]):
        references = []
        for start in starts:
            reference = stateful_reference(bias[start])
            max_length = 2 + start % 3
            if name in ("greedy", "sample"):
                references.append(greedy_reference(reference, start, max_length))
            else:  # the defaults: 4 beams, length penalty 0.6
                references.append(beam_reference(reference, start, max_length, 4, 0.6))
        start_ids = tf.constant(starts, tf.int32)
        for outputs in (module(start_ids), loaded(start_ids)):
            found = hypotheses(outputs["tokens"].numpy(), outputs["lengths"].numpy())
            assert found == [tokens for tokens, _ in references]
            np.testing.assert_allclose(outputs["scores"], [score for _, score in references],
                                       atol=1e-5)


def test_get_decoder():
    assert isinstance(get_decoder("greedy"), GreedyDecoder)
    beam = get_decoder("beam", beam_width=8, length_penalty=1)
    assert (beam.beam_width, beam.length_penalty) == (8, 1.0)
    assert (BeamSearchDecoder().beam_width, BeamSearchDecoder().length_penalty) == (4, 0.6)
    with pytest.raises(ValueError, match="'sampling'.*beam, greedy"):
        get_decoder("sampling")
    for options in ({"beam_width": 0}, {"beam_width": 2.0}, {"beam_width": True},
                    {"length_penalty": -0.1}, {"length_penalty": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(options))):
            get_decoder("beam", **options)
    with pytest.raises(TypeError):
        get_decoder("greedy", beam_width=2)


# ----- in the translation recipe's seq2seq model (moved from tests/recipes/test_translation.py)

@pytest.mark.parametrize("overrides", [
    [],
    pytest.param(["model.attention=luong", "model.cell=lstm", "model.layers=2"],
                 marks=pytest.mark.slow),
    pytest.param(["model.attention=none", "model.cell=gru", "model.bidirectional=false"],
                 marks=pytest.mark.slow),
], ids=["elman-bahdanau", "lstm-luong-2-layers", "gru-none"])
def test_padding_never_changes_a_translation_or_its_score(tmp_path, overrides):
    import seqtasks
    from seqtasks.recipes.translation import builtin as builtin

    train = write_tsv(tmp_path / "train.tsv", builtin.generate(600, seed=1))
    recipe = seqtasks.get_recipe("translation")
    task = recipe(recipe.default_config(tiny_translation(f"data.train={train}", *overrides)))
    datasets = task.build_datasets()
    model = task.build_model()
    model.fit(datasets["train"].take(3), verbose=0, shuffle=False)
    signature = task.endpoints(task.inference_model(model))["serving_default"]  # traced once
    serve = lambda texts: {k: v.numpy() for k, v in  # noqa: E731
                           signature(text=np.array(texts, dtype=object)).items()}
    alone = serve(["the dog sees two birds ."])
    batch = serve(["the dog sees two birds .", "zyxwv qqq unknown words !", "",
                   "she gives the old red books to the small cats in the park ."])
    assert alone["translation"][0] == batch["translation"][0]
    np.testing.assert_allclose(alone["score"][0], batch["score"][0], atol=1e-5)
    assert np.isfinite(batch["score"]).all()
    assert all(len(t.split()) <= 30 for t in batch["translation"])  # decode.max_length
    probs = model.predict_on_batch(next(iter(datasets["test"]))[0])
    assert np.allclose(probs.sum(-1), 1.0, atol=1e-4)


# ----- sampling ---------------------------------------------------------------------------------

def sample_first_tokens(decoder, start, count):
    """The first token each of ``count`` identical rows draws (END when it stopped at once)."""
    tokens, lengths, _ = decoder(table_step(TABLE), (), (), tf.fill([count], start), END,
                                 tf.fill([count], 1))
    tokens, lengths = tokens.numpy(), lengths.numpy()
    return np.where(lengths > 0, tokens[:, 0] if tokens.shape[1] else END, END)


@pytest.mark.parametrize("temperature,top_k", [(1.0, 0), (0.5, 0), (2.0, 3)])
def test_sampling_follows_the_tempered_top_k_distribution(temperature, top_k):
    start, count = 2, 20000
    logits = TABLE[start] / temperature
    if top_k:
        logits = np.where(logits < np.sort(logits)[-top_k], -np.inf, logits)
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    drawn = sample_first_tokens(SamplingDecoder(temperature, top_k, seed=7), start, count)
    frequencies = np.bincount(drawn, minlength=V) / count
    np.testing.assert_allclose(frequencies, expected, atol=0.015)
    if top_k:
        assert set(np.unique(drawn)) <= set(np.flatnonzero(expected > 0))


def test_sampling_is_reproducible_by_seed_and_scores_with_model_log_probs():
    step = table_step(TABLE)
    starts = tf.constant([0, 2, 3, 4] * 50, tf.int32)
    limit = tf.fill([200], 6)
    run = lambda seed: SamplingDecoder(1.5, 0, seed)(step, (), (), starts, END, limit)  # noqa: E731
    first, again, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first[0].numpy(), again[0].numpy())
    assert first[0].shape != other[0].shape or (first[0].numpy() != other[0].numpy()).any()
    tokens, lengths, scores = (t.numpy() for t in first)
    for row in range(0, 200, 37):  # the score is the untempered log-probability of the draws
        history, total = [int(starts[row])], 0.0
        for t in range(lengths[row]):
            total += TABLE[history[-1], tokens[row, t]]
            history.append(tokens[row, t])
        if lengths[row] < 6:
            total += TABLE[history[-1], END]
        assert scores[row] == pytest.approx(total, abs=1e-4)


def test_temperature_zero_and_tensor_options_are_greedy_and_top_k():
    step, starts, limit = table_step(TABLE), tf.constant([0, 2, 3, 4]), tf.fill([4], 5)
    greedy = GreedyDecoder()(step, (), (), starts, END, limit)
    for decoder in (SamplingDecoder(0.0), SamplingDecoder(tf.constant(1.0), tf.constant(1))):
        out = decoder(step, (), (), starts, END, limit)
        np.testing.assert_array_equal(out[0].numpy(), greedy[0].numpy())


def test_sampling_options_are_checked():
    with pytest.raises(ValueError, match="temperature"):
        get_decoder("sample", temperature=-0.5)
    with pytest.raises(ValueError, match="top_k"):
        get_decoder("sample", top_k=-1)
