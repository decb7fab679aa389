#!/usr/bin/env bash
# captioning on Flickr8k (128 px copy): train on the train list, test on the dev list.
# Usage: bash benchmarks/flickr8k.sh [path/to/flickr8k_128] [--set ...]
#   e.g. bash benchmarks/flickr8k.sh ../shared/datasets/captioning/flickr8k_128 \
#          --set model.attention=bahdanau
set -euo pipefail
src=${1:-../shared/datasets/captioning/flickr8k_128}; shift || true
time seqtasks run benchmarks/flickr8k.toml \
  --set "data.train=$src/captions.txt" --set "data.train_images=$src/Flickr_8k.trainImages.txt" \
  --set "data.test=$src/captions.txt" --set "data.test_images=$src/Flickr_8k.devImages.txt" "$@"
