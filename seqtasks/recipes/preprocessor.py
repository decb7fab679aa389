"""The base class of recipe preprocessors (the keras-hub Preprocessor pattern).

A preprocessor is a Keras layer that owns everything between a recipe's raw inputs and its
network: tokenizers, vocabularies, special token ids, normalisation statistics. The same object

* learns from the training split (:meth:`Preprocessor.adapt`, plain Python examples);
* turns raw examples into ``(x, y, sample_weight)`` elements inside ``tf.data``
  (:meth:`Preprocessor.raw_inputs`, :meth:`Preprocessor.raw_targets` and :meth:`encode`);
* runs inside the exported graph, where :meth:`call` maps a batch of raw signature inputs
  (``{name: tensor}`` as declared by :meth:`input_signature`) to the network's inputs.

Its vocabularies are constructor arguments, so ``get_config()`` carries them and
``keras.models.load_model`` rebuilds an adapted preprocessor.
"""

import keras
import tensorflow as tf


class Preprocessor(keras.layers.Layer):
    """Raw inputs -> network inputs. Subclasses implement the methods that raise.

    Call arguments:
        inputs: ``{name: tensor}`` batched raw inputs, the names and dtypes of
            :meth:`input_signature`.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def build(self, input_shape):
        pass  # lookup tables are made in __init__; nothing depends on the input shape

    # ----- learning from the training split ------------------------------------------------
    @property
    def adapted(self):
        """Whether the preprocessor knows its vocabularies (or statistics)."""
        return True

    def adapt(self, examples):
        """Learn vocabularies (or statistics) from the training examples."""

    def check_adapted(self):
        if not self.adapted:
            raise RuntimeError(f"{type(self).__name__}: not adapted yet; call adapt() on the "
                               "training examples (Recipe.build_datasets does)")

    def check(self, examples):
        """Runs on each held-out split once the preprocessor is adapted: raises
        :class:`~seqtasks.errors.DataError` naming the file and line of the first example it
        cannot represent; returns warning lines about what is scored anyway (a list)."""
        return []

    def summary(self):
        """Facts for the run's data summary (vocabulary sizes...)."""
        return {}

    # ----- the serving boundary ------------------------------------------------------------
    def input_signature(self):
        """``{name: tf.TensorSpec}`` of the raw inputs, batch axis first."""
        raise NotImplementedError

    def call(self, inputs):
        raise NotImplementedError

    # ----- training ------------------------------------------------------------------------
    def raw_targets(self, examples):
        """Targets of ``examples`` in a form ``tf.data.Dataset.from_tensor_slices`` takes."""
        raise NotImplementedError

    def encode(self, inputs, targets):
        """One unbatched element: ``{name: tensor}`` raw inputs and its targets ->
        ``(x, y)`` or ``(x, y, sample_weight)``. By default the batch of one through
        :meth:`call`, targets unchanged."""
        batch = {name: value[None] for name, value in inputs.items()}
        return tf.nest.map_structure(lambda t: t[0], self(batch)), targets

    #: Whether :meth:`encode_batch` is implemented: streamed training examples are then
    #: encoded a chunk at a time (one call per chunk instead of one per example), and their
    #: rows are batched as they are (see :func:`seqtasks.data.batching.batch_sequences`).
    encodes_batches = False

    def encode_batch(self, inputs, targets):
        """A chunk of raw elements (``{name: (chunk,) tensor}`` and their targets) -> the
        elements of :meth:`encode` batched: every component with a time axis padded with 0
        after each row's end, and each row's :meth:`encode` ending with a non-zero value
        there (so that the row cut after its last non-zero value is what :meth:`encode`
        gives; otherwise override :meth:`trim_batch`)."""
        raise NotImplementedError

    def trim_batch(self, *batch):
        """A batch of :meth:`encode_batch` rows (padded to their chunk's longest) cut to what
        the rows cut to their own lengths would give, padded to the batch's longest."""
        from seqtasks.data.batching import trim_batch

        return trim_batch(*batch)

    def detokenize(self, ids, lengths=None):
        """Recipes whose outputs are text: ``(batch, steps)`` ids, the first ``lengths`` of
        each row real (None: the recipe's default), back to ``(batch,)`` strings; runs in
        the export's graph and in the tests' round trip (tokenize, then detokenize)."""
        raise NotImplementedError

    def length(self, example):
        """Length of an example's input in steps (for length buckets); None: no bucketing."""
        return None
