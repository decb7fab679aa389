#!/usr/bin/env bash
# tagging on UD English EWT (UPOS), as a user would run it: the treebank's own train/dev/test.
# Usage: bash benchmarks/ud_ewt.sh [path/to/ud_english_ewt] [--set ...]
#   e.g. bash benchmarks/ud_ewt.sh ../shared/datasets/tagging/ud_english_ewt --set model.cell=lstm
set -euo pipefail
src=${1:-../shared/datasets/tagging/ud_english_ewt}; shift || true
time seqtasks run benchmarks/ud_ewt.toml \
  --set data.train="$src/en_ewt-ud-train.conllu" \
  --set data.validation="$src/en_ewt-ud-dev.conllu" \
  --set data.test="$src/en_ewt-ud-test.conllu" "$@"
