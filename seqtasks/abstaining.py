"""Classifiers that can stay silent: an abstain threshold and an out-of-scope label.

:class:`Abstaining` is mixed into a classification recipe (smart_reply) whose preprocessor has
``labels`` and ``label_index()`` and whose serving outputs hold ``labels`` (best first) and
``abstained``. It adds ``data.out_of_scope_label`` and ``export.min_score`` /
``export.target_precision`` (:data:`DATA_KEYS`, :data:`EXPORT_KEYS`), chooses the threshold on
validation when ``export.min_score = "auto"``, lets held-out data hold out-of-scope messages
the training data lacks, and scores abstentions as the CLINC150 paper does.
"""

from seqtasks.config import Key, fraction

DATA_KEYS = {
    "out_of_scope_label": Key("oos", (str,), "label of messages no reply fits (CLINC150's): "
                              "learned like any label when the training data has it, never "
                              "answered, allowed in validation and test data without it, and "
                              "scored as out-of-scope recall and precision"),
}
EXPORT_KEYS = {
    "min_score": Key(0.0, (float, str), "abstain (no replies) when the best score is under "
                     "this; auto: chosen on the validation split for export.target_precision",
                     bounds="probability-or-auto"),
    "target_precision": fraction(0.9, "with min_score = auto: the share of answered validation "
                                 "messages that must be answered right"),
}


class Abstaining:
    """What a recipe that may stay silent adds: the abstain threshold (``export.min_score``,
    chosen on validation when ``auto``), the out-of-scope label, and the metrics that count
    abstentions as the CLINC150 paper counts them (see the module docstring)."""

    #: The threshold :meth:`calibrate` chose (``export.min_score = "auto"``); None before.
    chosen_min_score = None

    def out_of_scope_label(self):
        return self.config["data"]["out_of_scope_label"]

    def min_score(self):
        value = self.config["export"]["min_score"]
        if value != "auto":
            return float(value)
        if self.chosen_min_score is None:
            raise RuntimeError(f"{self.name}: export.min_score is auto; call calibrate(model) "
                               "after training, before evaluating or exporting")
        return self.chosen_min_score

    def dataset(self, split, examples):
        # out-of-scope messages the model has no label for are scored, not fed to fit (every
        # training label is known: the training stream goes through as it is)
        if isinstance(examples, list):
            known = self.preprocessor.label_index()
            examples = [e for e in examples if e.target in known]
        return super().dataset(split, examples)

    def calibrate(self, model):
        """With ``export.min_score = "auto"``: the threshold from the validation messages'
        best scores (:func:`seqtasks.metrics.abstain_threshold`)."""
        import numpy as np

        from seqtasks.metrics import abstain_threshold

        export = self.config["export"]
        if export["min_score"] != "auto":
            return []
        examples = self.splits["validation"]
        inference, size = self.inference_model(model), self.inference_batch_size
        probs = np.concatenate([
            np.asarray(inference(np.array([e.input for e in examples[i:i + size]], dtype=object)))
            for i in range(0, len(examples), size)]) if examples else np.zeros((0, 1))
        labels = np.array(self.preprocessor.labels, dtype=object)[probs.argmax(axis=1)]
        answerable = labels != self.out_of_scope_label()  # that label always abstains
        correct = labels == np.array([e.target for e in examples], dtype=object)
        threshold, precision, answered = abstain_threshold(
            probs.max(axis=1)[answerable], correct[answerable], export["target_precision"])
        self.chosen_min_score = threshold
        return [f"export.min_score = auto: {threshold:.4f} (validation: {precision:.1%} of the "
                f"{answered:.1%} answered are right; target {export['target_precision']:.0%})"]

    def abstaining_assets(self):
        return {"min_score": self.min_score(), "out_of_scope_label": self.out_of_scope_label()}

    @staticmethod
    def abstention_metrics(outputs, examples, metadata):
        """``accuracy`` (in scope), ``top_<k>_accuracy``, the out-of-scope scores and
        ``examples``, from the serving outputs ``labels`` and ``abstained`` (an export made
        before abstaining existed has no ``abstained``: it never abstains)."""
        import numpy as np

        from seqtasks.metrics import abstention_scores

        oos = metadata.get("out_of_scope_label")
        labels = [[label.decode("utf-8") for label in row] for row in outputs["labels"]]
        targets = [e.target for e in examples]
        abstained = np.asarray(outputs.get("abstained", [False] * len(examples)), bool)
        scores = abstention_scores(targets, [row[0] for row in labels], abstained, oos)
        hits = [t in row and not a for row, t, a in zip(labels, targets, abstained) if t != oos]
        return {"accuracy": scores.pop("accuracy"),
                f"top_{metadata['top_k']}_accuracy": round(float(np.mean(hits)), 6) if hits
                else 0.0, **scores, "examples": len(examples)}


def reply_lines(replies, scores, abstained):
    """``seqtasks predict``'s lines for one message's replies."""
    if abstained:
        return [f"  (no reply: best score {scores[0]:.3f} under export.min_score or out of "
                "scope)"]
    return [f"  {s:.3f}  {r.decode('utf-8')}" for r, s in zip(replies, scores)]
