"""The Elman recurrence as one TensorFlow op with a hand-written backward pass.

Forward, per step: ``h_t = act(xw_t + (h_(t-1) * r) @ W_h)`` where ``xw = x @ W_x + b`` was
computed for all steps before the loop, ``r`` is the (optional) recurrent dropout mask and a
step whose mask is 0 carries ``h_(t-1)`` forward. Backward through time keeps one matrix
product per step inside the loop; the gradient of ``W_h`` is accumulated in one product
afterwards. Only TensorFlow ops are used, so exported graphs run on stock TF Serving.
"""

import tensorflow as tf

# Activations whose derivative can be written in terms of their output y = act(z).
_ACTIVATIONS = {
    "tanh": (tf.math.tanh, lambda y: 1.0 - tf.square(y)),
    "sigmoid": (tf.math.sigmoid, lambda y: y * (1.0 - y)),
    "relu": (tf.nn.relu, lambda y: tf.cast(y > 0, y.dtype)),
    "linear": (tf.identity, tf.ones_like),
}


def supports(activation_name):
    return activation_name in _ACTIVATIONS


def elman_recurrence(xw, recurrent_kernel, h0, mask=None, recurrent_mask=None, activation="tanh"):
    """Run the recurrence over time-major inputs.

    Args:
        xw: float tensor [T, B, U], the input projection (bias included) of every step.
        recurrent_kernel: [U, U], the part of W acting on the previous state.
        h0: [B, U], the initial state.
        mask: optional float tensor [T, B, 1]; 1 for real steps, 0 for padding.
        recurrent_mask: optional [B, U] dropout mask applied to the previous state.
        activation: a name from ``tanh``, ``sigmoid``, ``relu``, ``linear``.

    Returns:
        The states of every step, [T, B, U]. Masked steps repeat the previous state.
    """
    act, derivative = _ACTIVATIONS[activation]
    extras = [t for t in (mask, recurrent_mask) if t is not None]
    has_mask = mask is not None
    has_dropout = recurrent_mask is not None

    @tf.custom_gradient
    def recurrence(xw, w_h, h0, *extras):
        m = extras[0] if has_mask else None
        r = extras[-1] if has_dropout else None
        steps = tf.shape(xw)[0]
        xs = tf.TensorArray(xw.dtype, size=steps).unstack(xw)
        ms = tf.TensorArray(tf.bool, size=steps).unstack(m > 0) if has_mask else None

        def step(t, h, out):
            previous = h * r if has_dropout else h
            new = act(xs.read(t) + tf.matmul(previous, w_h))
            if has_mask:
                new = tf.where(ms.read(t), new, h)
            return t + 1, new, out.write(t, new)

        out = tf.TensorArray(xw.dtype, size=steps, element_shape=h0.shape)
        _, _, out = tf.while_loop(
            lambda t, *_: t < steps, step, (tf.constant(0), h0, out), parallel_iterations=1
        )
        states = out.stack()
        states.set_shape(xw.shape)

        def grad(d_states):
            # dz_t = dh_t * act'(z_t) on real steps, 0 on masked ones: computed for all steps at once.
            slope = derivative(states)
            if has_mask:
                slope = slope * m
            d_ta = tf.TensorArray(xw.dtype, size=steps).unstack(d_states)
            s_ta = tf.TensorArray(xw.dtype, size=steps).unstack(slope)
            keep = tf.TensorArray(xw.dtype, size=steps).unstack(1.0 - m) if has_mask else None

            def back(t, dh, dz_out):
                dh = dh + d_ta.read(t)
                dz = dh * s_ta.read(t)
                through = tf.matmul(dz, w_h, transpose_b=True)
                if has_dropout:
                    through = through * r
                if has_mask:
                    through = through + dh * keep.read(t)
                return t - 1, through, dz_out.write(t, dz)

            dz_out = tf.TensorArray(xw.dtype, size=steps, element_shape=h0.shape)
            _, dh0, dz_out = tf.while_loop(
                lambda t, *_: t >= 0, back, (steps - 1, tf.zeros_like(h0), dz_out),
                parallel_iterations=1,
            )
            dz = dz_out.stack()
            previous = tf.concat([h0[None], states], axis=0)[:steps]
            if has_dropout:
                previous = previous * r
            units = tf.shape(h0)[-1]
            d_w_h = tf.matmul(
                tf.reshape(previous, [-1, units]), tf.reshape(dz, [-1, units]), transpose_a=True
            )
            return (dz, d_w_h, dh0) + tuple(tf.zeros_like(e) for e in extras)

        return states, grad

    return recurrence(xw, recurrent_kernel, h0, *extras)
