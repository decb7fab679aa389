"""Training-time input noise."""


def drop_tokens(ids, rate):
    """Replace real tokens (id > 0) by the out-of-vocabulary id 1 with probability ``rate``.

    The model learns what to do with words it has never seen, from words it has.
    """
    import tensorflow as tf

    drop = (tf.random.uniform(tf.shape(ids)) < rate) & (ids > 0)
    return tf.where(drop, tf.ones_like(ids), ids)
