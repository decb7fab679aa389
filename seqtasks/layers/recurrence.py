"""The Elman recurrence as one TensorFlow op with a hand-written backward pass.

Forward, per step: ``h_t = act(xw_t + (h_(t-1) * r) @ W_h)`` where ``xw = x @ W_x + b`` was
computed for all steps before the loop, ``r`` is the (optional) recurrent dropout mask and a
step whose mask is 0 carries ``h_(t-1)`` forward. Backward through time keeps one matrix
product per step inside the loop; the gradient of ``W_h`` is accumulated in one product
afterwards. Each iteration of the time loop runs ``block`` steps (unrolled), which cuts the
per-step cost of reading inputs and writing outputs; the steps left over run one per iteration.
Only core TensorFlow ops are used, so exported graphs run on stock TF Serving. With ``jit`` the
two loops run one step per iteration and are compiled by XLA instead.
"""

import functools

import tensorflow as tf

# Activations whose derivative can be written in terms of their output y = act(z).
_ACTIVATIONS = {
    "tanh": (tf.math.tanh, lambda y: 1.0 - tf.square(y)),
    "sigmoid": (tf.math.sigmoid, lambda y: y * (1.0 - y)),
    "relu": (tf.nn.relu, lambda y: tf.cast(y > 0, y.dtype)),
    "linear": (tf.identity, tf.ones_like),
}

BLOCK = 8


def supports(activation_name):
    return activation_name in _ACTIVATIONS


def _take(sequence, begin, size):
    """``sequence[begin:begin + size]``, keeping ``size`` static so that it can be unstacked."""
    rank = len(sequence.shape)
    return tf.slice(sequence, tf.concat([[begin], tf.zeros([rank - 1], tf.int32)], 0),
                    tf.concat([[size], -tf.ones([rank - 1], tf.int32)], 0))


def _scan_steps(step, sequences, carry, out_like, reverse=False):
    """:func:`_scan` one step per iteration: the form XLA compiles best."""
    steps = tf.shape(sequences[0])[0]

    def iteration(i, carry, out):
        t = steps - 1 - i if reverse else i
        carry, out_t = step(carry, *[s[t] for s in sequences])
        return i + 1, carry, out.write(t, out_t)

    out = tf.TensorArray(out_like.dtype, size=steps, element_shape=out_like.shape)
    _, carry, out = tf.while_loop(lambda i, *_: i < steps, iteration, (0, carry, out),
                                  maximum_iterations=steps, parallel_iterations=1)
    return carry, out.stack()


def _scan(step, sequences, carry, out_like, block, reverse=False):
    """Run ``carry, out_t = step(carry, *[s[t] for s in sequences])`` over the time axis.

    ``block`` steps run per while-loop iteration (unrolled in the graph), then single steps
    for the rest. Returns ``(carry, outputs)`` with outputs stacked on the time axis.
    """
    steps = tf.shape(sequences[0])[0]
    full = steps // block * block
    out_shape = tf.shape(out_like)

    def run(carry, start, stop, size):
        count = (stop - start) // size  # may be 0: the loop then leaves everything as it is

        def iteration(i, carry, out):
            j = count - 1 - i if reverse else i
            begin = start + j * size
            if size == 1:
                blocks = [[s[begin]] for s in sequences]
            else:
                blocks = [tf.unstack(_take(s, begin, size), num=size) for s in sequences]
            outs = [None] * size
            for n in (reversed(range(size)) if reverse else range(size)):
                carry, outs[n] = step(carry, *[b[n] for b in blocks])
            return i + 1, carry, out.write(j, tf.stack(outs))

        out = tf.TensorArray(out_like.dtype, size=count, element_shape=tf.TensorShape(
            [size]).concatenate(out_like.shape))
        _, carry, out = tf.while_loop(
            lambda i, *_: i < count, iteration, (tf.constant(0), carry, out),
            parallel_iterations=4)
        # Stacking an empty list needs a fully known element shape, which the batch size is not.
        # (Only the stack is conditional: a while loop inside tf.cond upsets Grappler.)
        stacked = tf.cond(count > 0, out.stack,
                          lambda: tf.zeros(tf.concat([[0, size], out_shape], 0), out_like.dtype))
        return carry, tf.reshape(stacked, tf.concat([[count * size], out_shape], 0))

    if reverse:
        carry, tail = run(carry, full, steps, 1)
        carry, head = run(carry, 0, full, block)
    else:
        carry, head = run(carry, 0, full, block)
        carry, tail = run(carry, full, steps, 1)
    return carry, tf.concat([head, tail], axis=0)


@functools.cache
def _loops(activation, has_mask, has_dropout, block, jit):
    """The forward and backward time loops; with ``jit`` each is compiled by XLA on its own."""
    act, derivative = _ACTIVATIONS[activation]
    scan = _scan_steps if jit else functools.partial(_scan, block=block)

    def forward_loop(xw, w_h, h0, m, r):
        def step(h, x_t, *m_t):
            previous = h * r if has_dropout else h
            new = act(x_t + tf.matmul(previous, w_h))
            if has_mask:
                new = tf.where(m_t[0], new, h)
            return new, new

        return scan(step, [xw, m > 0] if has_mask else [xw], h0, h0)[1]

    def backward_loop(d_states, states, w_h, h0, m, r):
        # dz_t = dh_t * act'(z_t) on real steps, 0 on masked ones.
        slope = derivative(states)
        if has_mask:
            slope = slope * m
        w_t = tf.transpose(w_h)

        def step(dh, d_t, slope_t, *keep_t):
            dh = dh + d_t
            dz = dh * slope_t
            through = tf.matmul(dz, w_t)
            if has_dropout:
                through = through * r
            if has_mask:
                through = through + dh * keep_t[0]
            return through, dz

        sequences = [d_states, slope] + ([1.0 - m] if has_mask else [])
        return scan(step, sequences, tf.zeros_like(h0), h0, reverse=True)

    if jit:
        return (tf.function(forward_loop, jit_compile=True),
                tf.function(backward_loop, jit_compile=True))
    return forward_loop, backward_loop


def elman_recurrence(xw, recurrent_kernel, h0, mask=None, recurrent_mask=None, activation="tanh",
                     block=BLOCK, jit=False):
    """Run the recurrence over time-major inputs.

    Args:
        xw: float tensor [T, B, U], the input projection (bias included) of every step.
        recurrent_kernel: [U, U], the part of W acting on the previous state.
        h0: [B, U], the initial state.
        mask: optional float tensor [T, B, 1]; 1 for real steps, 0 for padding.
        recurrent_mask: optional [B, U] dropout mask applied to the previous state.
        activation: a name from ``tanh``, ``sigmoid``, ``relu``, ``linear``.
        block: time steps per loop iteration.
        jit: compile the two time loops with XLA (once per input shape).

    Returns:
        The states of every step, [T, B, U]. Masked steps repeat the previous state.
    """
    has_mask = mask is not None
    has_dropout = recurrent_mask is not None
    forward_loop, backward_loop = _loops(activation, has_mask, has_dropout, block, jit)
    extras = [t for t in (mask, recurrent_mask) if t is not None]

    @tf.custom_gradient
    def recurrence(xw, w_h, h0, *extras):
        m = extras[0] if has_mask else None
        r = extras[-1] if has_dropout else None
        # The loops are differentiated by hand below, never by TensorFlow.
        states = forward_loop(*[None if t is None else tf.stop_gradient(t)
                                for t in (xw, w_h, h0, m, r)])
        states.set_shape(xw.shape)

        def grad(d_states):
            dh0, dz = backward_loop(*[None if t is None else tf.stop_gradient(t)
                                      for t in (d_states, states, w_h, h0, m, r)])
            # dW_h = sum_t (h_(t-1) * r)^T dz_t: h0 with dz_0, then all later steps at once.
            first, rest = (h0 * r, states[:-1] * r) if has_dropout else (h0, states[:-1])
            units = tf.shape(h0)[-1]
            d_w_h = tf.matmul(first, dz[0], transpose_a=True) + tf.matmul(
                tf.reshape(rest, [-1, units]), tf.reshape(dz[1:], [-1, units]), transpose_a=True)
            return (dz, d_w_h, dh0) + tuple(tf.zeros_like(e) for e in extras)

        return states, grad

    return recurrence(xw, recurrent_kernel, h0, *extras)
