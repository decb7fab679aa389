"""Training-time input noise."""


def drop_tokens(ids, rate):
    """Replace real tokens (id > 0) by the out-of-vocabulary id 1 with probability ``rate``.

    The model learns what to do with words it has never seen, from words it has.
    """
    import tensorflow as tf

    drop = (tf.random.uniform(tf.shape(ids)) < rate) & (ids > 0)
    return tf.where(drop, tf.ones_like(ids), ids)


def drop_rare_tokens(ids, counts, alpha):
    """Replace token ``i`` by the out-of-vocabulary id 1 with probability
    ``alpha / (alpha + counts[i])``: words seen once are dropped often, frequent words almost
    never (the word dropout of Kiperwasser & Goldberg, 2016), so the out-of-vocabulary
    embedding is trained on the kind of words that are unknown at test time.

    ``counts`` holds each id's training frequency; ids 0 (padding) and 1 are never replaced.
    """
    import tensorflow as tf

    count = tf.gather(tf.constant(counts, tf.float32), ids)
    drop = (tf.random.uniform(tf.shape(ids)) < alpha / (alpha + count)) & (ids > 1)
    return tf.where(drop, tf.ones_like(ids), ids)


def drop_words(ids, *rest, rate):
    """A ``(token ids, ...)`` tf.data element with :func:`drop_tokens` applied to its ids."""
    return (drop_tokens(ids, rate), *rest)
