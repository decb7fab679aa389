"""smart_reply's abstain threshold: what each ``export.target_precision`` would give.

    python benchmarks/abstain_sweep.py EXPORT --validation val.csv --test test.csv
                                       [--targets 0.8,0.85,0.88,0.9,0.92]

Runs the export's ``serving_default`` once over the validation and test messages (CSV
``text,label``), then for each target precision chooses the threshold on validation as
``export.min_score = "auto"`` does (:func:`seqtasks.metrics.abstain_threshold`) and scores the
test split with it (:func:`seqtasks.metrics.abstention_scores`): in-scope accuracy,
out-of-scope recall and precision. Target 0 is "never abstain on the score" (only the
out-of-scope label, when the model has it). Prints a Markdown table.
"""

import argparse
import csv
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def outputs(signature, path):
    import tensorflow as tf

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    best, labels = [], []
    for start in range(0, len(rows), 256):
        texts = tf.constant([r["text"] for r in rows[start:start + 256]])
        out = signature(text=texts)
        best.append(out["scores"].numpy()[:, 0])
        labels += [label.decode() for label in out["labels"].numpy()[:, 0]]
    return np.concatenate(best), np.array(labels, object), np.array([r["label"] for r in rows],
                                                                       object)


def main():
    import json
    from pathlib import Path

    import tensorflow as tf

    from seqtasks.metrics import abstain_threshold, abstention_scores

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--validation", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--targets", default="0,0.8,0.85,0.86,0.87,0.88,0.89,0.9,0.92")
    args = parser.parse_args()
    meta = json.loads((args.export / "assets.extra" / "seqtasks.json").read_text())
    oos = meta["out_of_scope_label"]
    signature = tf.saved_model.load(str(args.export)).signatures["serving_default"]
    val_best, val_labels, val_targets = outputs(signature, args.validation)
    test_best, test_labels, test_targets = outputs(signature, args.test)
    answerable = val_labels != oos
    print("| target precision | threshold (validation) | in-scope accuracy | out-of-scope recall "
          "| out-of-scope precision |")
    print("|---:|---:|---:|---:|---:|")
    for target in (float(t) for t in args.targets.split(",")):
        threshold = 0.0 if target == 0 else abstain_threshold(
            val_best[answerable], (val_labels == val_targets)[answerable], target)[0]
        abstained = (test_best < threshold) | (test_labels == oos)
        s = abstention_scores(test_targets, test_labels, abstained, oos)
        print(f"| {target:g} | {threshold:.4f} | {100 * s['accuracy']:.1f}% | "
              f"{100 * s.get('out_of_scope_recall', 0):.1f}% | "
              f"{100 * s.get('out_of_scope_precision', 0):.1f}% |")


if __name__ == "__main__":
    main()
