"""Losses of seqtasks' own, registered with Keras so that a ``.keras`` file compiled with
them loads wherever ``seqtasks`` is imported (:mod:`seqtasks._registration`)."""

import keras


@keras.saving.register_keras_serializable(package="seqtasks")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of probabilities against integer labels smoothed by ``label_smoothing``
    (Szegedy et al., 2016): the target puts ``1 - label_smoothing`` on the label and spreads
    ``label_smoothing`` evenly over all classes, so the loss is
    ``(1 - e) * -log p[label] + e * mean_k(-log p[k])``. With ``label_smoothing=0`` it is
    ``SparseCategoricalCrossentropy``, which has no smoothing of its own."""

    def __init__(self, label_smoothing=0.0, reduction="mean_with_sample_weight",
                 name="smoothed_sparse_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        from keras import ops

        log_p = ops.log(ops.clip(y_pred, keras.config.epsilon(), 1.0))
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(log_p.shape):  # (batch, 1) labels, as Keras allows
            labels = ops.squeeze(labels, -1)
        picked = ops.take_along_axis(log_p, ops.expand_dims(labels, -1), axis=-1)[..., 0]
        e = self.label_smoothing
        return -(1.0 - e) * picked - e * ops.mean(log_p, axis=-1)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
