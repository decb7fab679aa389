"""tf.data batching: pad each batch only to its longest sequence, bucket by length."""

import collections

import numpy as np
import tensorflow as tf


def length_boundaries(lengths, buckets=8):
    """Bucket boundaries at the quantiles of the training lengths (distinct, increasing).

    ``lengths``: every length, or ``{length: count}`` (what a streaming pass keeps: memory
    bounded by the distinct lengths); both give the same boundaries (NumPy's linear
    quantiles)."""
    if not isinstance(lengths, dict):
        lengths = collections.Counter(int(n) for n in np.asarray(lengths).ravel())
    values = sorted(lengths)
    if not values:
        return []
    counts = np.cumsum([lengths[v] for v in values])  # values[i] fills ranks < counts[i]
    n = int(counts[-1])

    def ranked(rank):  # the value at 0-based ``rank`` of the sorted lengths
        return values[int(np.searchsorted(counts, rank, side="right"))]

    qs = []
    for q in np.linspace(0, 1, buckets + 1)[1:-1]:
        position = (n - 1) * q
        low = int(np.floor(position))
        below, above = ranked(low), ranked(min(low + 1, n - 1))
        qs.append(below + (position - low) * (above - below))
    return sorted({int(q) + 1 for q in qs if int(q) + 1 < values[-1] + 1})


_epoch = None


def epoch_variable():
    """The epoch being trained, as a variable the training shuffles read (set by
    :func:`seqtasks.training.callbacks` at the start of every epoch)."""
    global _epoch
    if _epoch is None:
        with tf.init_scope():
            _epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    return _epoch


def shuffle_every_epoch(dataset, buffer_size, seed):
    """``dataset`` in an order that depends only on ``seed`` and the epoch being trained:
    a new order every epoch, and the same one when a run resumed at that epoch trains it
    again (``reshuffle_each_iteration`` would start again from the first epoch's order), so
    an interrupted run ends exactly as an uninterrupted one. Caches upstream are kept."""
    epoch = epoch_variable()
    graph_seed = 1 + int(seed) % (2**31 - 2)  # never 0: TF tests a (0, tensor) seed pair as bool

    def this_epoch(_):
        # in this function's graph only: the run's seed is the graph seed, the epoch the op's
        tf.random.set_seed(graph_seed)
        return dataset.shuffle(buffer_size, seed=epoch.read_value())

    return tf.data.Dataset.from_tensors(0).flat_map(this_epoch)


def nonzero_length(ids):
    """The length of a row of ids padded with 0 at its end: up to its last non-zero id (a
    row of ``(steps, pieces)`` ids: up to its last step holding one)."""
    real = ids != 0
    if ids.shape.rank > 1:
        real = tf.reduce_any(real, axis=list(range(1, ids.shape.rank)))
    return tf.reduce_max(tf.where(real, tf.range(1, tf.shape(ids)[0] + 1), 0))


def used_width(t, axis=1):
    """The columns of ``t`` along ``axis`` up to the last holding a non-zero value (at least
    one)."""
    used = tf.reduce_any(t != 0, axis=[a for a in range(t.shape.rank) if a != axis])
    return tf.reduce_max(tf.where(used, tf.range(1, tf.shape(used)[0] + 1), 1))


def trim_batch(*batch):
    """A batch whose rows were padded with 0 beyond their ends, every component with a time
    axis cut after its last column holding a non-zero value (at least one column kept): the
    batch that padding rows cut to their lengths would give, when every component's rows end
    with a non-zero value."""

    def trim(t):
        if t.shape.rank is None or t.shape.rank < 2:
            return t
        return t[:, :used_width(t)]

    return tf.nest.map_structure(trim, batch)


def batch_sequences(dataset, batch_size, *, boundaries=None, bucketing=True, shuffle_seed=None,
                    shuffle_buffer=10_000, trim=None):
    """Batch ``(features, target, ...)`` elements, padding every tensor with 0 to the longest
    in the batch. ``features`` is an id sequence, or a tuple whose first tensor is one; its
    length is the element's length.

    With ``bucketing`` the elements are grouped by length first (``boundaries`` from
    :func:`length_boundaries`), so little of each batch is padding.

    ``trim``: the elements may be padded with 0 beyond their ends (rows of a chunk encoded at
    once, not cut one by one: a per-element function is the costliest stage of a tf.data
    pipeline); lengths are then read up to the last non-zero id of the first features
    tensor, and every batch goes through ``trim`` (a function such as :func:`trim_batch`),
    which cuts it to the batch the rows cut to their lengths would give.
    """
    if shuffle_seed is not None:
        dataset = shuffle_every_epoch(dataset, shuffle_buffer, shuffle_seed)
    if bucketing and boundaries:
        def length(features, *_):
            ids = tf.nest.flatten(features)[0]
            return nonzero_length(ids) if trim else tf.shape(ids)[0]

        dataset = dataset.bucket_by_sequence_length(
            element_length_func=length,
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            pad_to_bucket_boundary=False,
        )
    else:
        dataset = dataset.padded_batch(batch_size)
    if trim:
        dataset = dataset.map(trim)
    return dataset.prefetch(tf.data.AUTOTUNE)


def padded_fraction(dataset):
    """Share of the token positions in ``dataset``'s batches that are padding (id 0)."""
    padding = total = 0
    for features, *_ in dataset:
        ids = tf.nest.flatten(features)[0].numpy()
        padding += int((ids == 0).sum())
        total += ids.size
    return padding / total if total else 0.0
