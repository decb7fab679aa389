#!/usr/bin/env bash
# translation de->en on Multi30k (task 1): train, validate on val, test on test_2016_flickr.
# Usage: bash benchmarks/multi30k.sh [path/to/multi30k_en_de] [--set ...]
#   e.g. bash benchmarks/multi30k.sh ../shared/datasets/translation/multi30k_en_de \
#          --set model.attention=none
set -euo pipefail
src=${1:-../shared/datasets/translation/multi30k_en_de}; shift || true
time seqtasks run benchmarks/multi30k.toml \
  --set "data.train=[\"$src/train.de.gz\", \"$src/train.en.gz\"]" \
  --set "data.validation=[\"$src/val.de.gz\", \"$src/val.en.gz\"]" \
  --set "data.test=[\"$src/test_2016_flickr.de.gz\", \"$src/test_2016_flickr.en.gz\"]" "$@"
