"""Task metrics computed from predictions, with the field's reference implementations."""


def _rounded(value):
    return round(float(value), 6)


def _per_label(report):
    """``{label: {precision, recall, f1, support}}`` from a classification report dict."""
    return {
        label: {"precision": _rounded(row["precision"]), "recall": _rounded(row["recall"]),
                "f1": _rounded(row["f1-score"]), "support": int(row["support"])}
        for label, row in report.items()
        if isinstance(row, dict) and label not in ("micro avg", "macro avg", "weighted avg")
    }


def tagging_scores(gold, predicted, scheme=None):
    """Token accuracy (padding never enters: sequences hold real tokens only), and

    - for chunk encodings (``scheme`` IOB, IOBES or BILOU): entity precision, recall and F1
      (micro-averaged, seqeval) and a per-entity-type table;
    - otherwise: a per-tag table of token-level precision, recall and F1 (scikit-learn).
    """
    from sklearn.metrics import classification_report

    flat_gold = [tag for sentence in gold for tag in sentence]
    flat_predicted = [tag for sentence in predicted for tag in sentence]
    if len(flat_gold) != len(flat_predicted):
        raise ValueError("gold and predicted tag sequences differ in length")
    correct = sum(g == p for g, p in zip(flat_gold, flat_predicted))
    scores = {"accuracy": _rounded(correct / max(len(flat_gold), 1)), "tokens": len(flat_gold)}
    if scheme is None:
        labels = sorted(set(flat_gold) | set(flat_predicted))
        report = classification_report(flat_gold, flat_predicted, labels=labels,
                                       output_dict=True, zero_division=0)
        scores["per_tag"] = _per_label(report)
        return scores

    import seqeval.metrics as entity
    from seqeval.scheme import BILOU, IOBES

    strict = {"IOBES": IOBES, "BILOU": BILOU}.get(scheme)
    options = {"mode": "strict", "scheme": strict} if strict else {}
    scores.update(
        precision=_rounded(entity.precision_score(gold, predicted, zero_division=0, **options)),
        recall=_rounded(entity.recall_score(gold, predicted, zero_division=0, **options)),
        f1=_rounded(entity.f1_score(gold, predicted, zero_division=0, **options)),
    )
    report = entity.classification_report(gold, predicted, output_dict=True, zero_division=0,
                                          **options)
    scores["per_tag"] = _per_label(report)
    return scores


def format_table(per_label, title="tag"):
    """Lines of a fixed-width precision / recall / F1 / support table."""
    if not per_label:
        return []
    width = max(len(title), *(len(label) for label in per_label))
    lines = [f"{title:<{width}}  precision  recall      f1  support"]
    for label, row in per_label.items():
        lines.append(f"{label:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  "
                     f"{row['f1']:6.4f}  {row['support']:7d}")
    return lines


def bleu_orders(hypotheses, references, lowercase=False, max_order=4):
    """Corpus BLEU-1 ... BLEU-``max_order`` (sacreBLEU, 13a tokenization) of ``hypotheses``
    against a list of reference captions per hypothesis; examples may have different numbers
    of references. Returns ``{"bleu_1": ..., ...}`` in 0-100."""
    from sacrebleu.metrics import BLEU

    width = max((len(refs) for refs in references), default=0)
    streams = [[refs[i] if i < len(refs) else None for refs in references]
               for i in range(width)]
    # force: references such as Flickr8k's are already tokenized ("a dog ."); sacreBLEU would
    # warn about it on every call, and its 13a tokenizer treats both forms alike.
    return {f"bleu_{n}": _rounded(BLEU(lowercase=lowercase, max_ngram_order=n, force=True)
                                  .corpus_score(list(hypotheses), streams).score)
            for n in range(1, max_order + 1)}


def abstain_threshold(scores, correct, target_precision):
    """The lowest score threshold at which the messages answered (score >= threshold) are
    right at least ``target_precision`` of the time: ``(threshold, precision, answered share)``.

    ``scores``: each message's best score; ``correct``: whether its best reply is right.
    Answering everything (threshold 0) is chosen when it already reaches the target; when no
    threshold does, the one with the highest precision.
    """
    import numpy as np

    scores, correct = np.asarray(scores, float), np.asarray(correct, bool)
    if scores.size == 0:
        return 0.0, 1.0, 1.0
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    precision = np.cumsum(correct[order]) / np.arange(1, scores.size + 1)
    # a threshold answers every message scoring at least it: cut after the last of equal scores
    cuts = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    if precision[-1] >= target_precision:
        return 0.0, float(precision[-1]), 1.0
    reaching = cuts[precision[cuts] >= target_precision]
    cut = reaching[-1] if reaching.size else cuts[np.argmax(precision[cuts])]
    return float(ranked[cut]), float(precision[cut]), float((cut + 1) / scores.size)


def abstention_scores(targets, best_labels, abstained, out_of_scope_label):
    """In-scope accuracy (an abstention on an in-scope message is an error), and where there
    are out-of-scope messages (``targets`` equal to ``out_of_scope_label``) their recall (the
    share abstained on) and the precision of abstaining (the share of abstentions that were
    out of scope), as the CLINC150 paper scores them."""
    import numpy as np

    targets, best = np.asarray(targets, object), np.asarray(best_labels, object)
    abstained = np.asarray(abstained, bool)
    outside = targets == out_of_scope_label
    inside = ~outside
    right = (best == targets) & ~abstained & inside
    scores = {"accuracy": _rounded(right[inside].mean()) if inside.any() else 0.0,
              "abstained": _rounded(abstained.mean()) if targets.size else 0.0}
    if outside.any():
        scores["out_of_scope_recall"] = _rounded(abstained[outside].mean())
        scores["out_of_scope_precision"] = (_rounded(outside[abstained].mean())
                                            if abstained.any() else 0.0)
        scores["in_scope_examples"] = int(inside.sum())
        scores["out_of_scope_examples"] = int(outside.sum())
    return scores
