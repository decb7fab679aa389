#!/usr/bin/env bash
# char-level language model on tiny-shakespeare, one cell or several.
# Usage: bash benchmarks/tinyshakespeare.sh [path/to/input.txt] [--cells elman,lstm,gru]
set -euo pipefail
src=${1:-../shared/datasets/language_modelling/tinyshakespeare/input.txt}; shift || true
time seqtasks compare benchmarks/tinyshakespeare.toml --set "data.train=$src" "$@"
