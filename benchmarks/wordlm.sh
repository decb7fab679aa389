#!/usr/bin/env bash
# Word-level language model with the recipe's defaults (nothing set but data.tokenizer = "word") on
# a ~1M-token, 10k-word corpus built from the shared English text (word_corpus.py), next to
# the Kneser-Ney 5-gram baseline when KenLM's binaries are given (kn_baseline.py). Both count
# line ends as tokens (data.line_ends = "token", the default; KenLM's </s>); for the older
# protocol without them add --set data.line_ends=ignore and run kn_baseline.py without
# --line-ends.
# Usage: bash benchmarks/wordlm.sh [path/to/shared/datasets] [corpus dir] [kenlm bin dir] [--set ...]
#   e.g. bash benchmarks/wordlm.sh ../shared/datasets runs/wordlm-corpus ~/kenlm/build/bin
set -euo pipefail
datasets=${1:-../shared/datasets}; corpus=${2:-runs/wordlm-corpus}; kenlm=${3:-}
shift $(( $# < 3 ? $# : 3 ))
python "$(dirname "$0")/word_corpus.py" "$datasets" "$corpus"
if [ -n "$kenlm" ]; then python "$(dirname "$0")/kn_baseline.py" "$corpus" --kenlm-bin "$kenlm" --line-ends; fi
time seqtasks run language_model --set data.tokenizer=word --set "data.train=$corpus/train.txt" \
  --set "data.validation=$corpus/valid.txt" --set "data.test=$corpus/test.txt" "$@"
