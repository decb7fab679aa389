#!/usr/bin/env bash
# forecasting on the Melbourne daily minimum temperatures: train 1981-1989, test 1990.
# Usage: bash benchmarks/melbourne.sh [path/to/daily-min-temperatures.csv] [--set ...]
#   compare cells: seqtasks compare benchmarks/melbourne.toml --set data.train=<csv>
set -euo pipefail
src=${1:-../shared/datasets/time_series/daily_min_temperatures/daily-min-temperatures.csv}
shift || true
time seqtasks run benchmarks/melbourne.toml --set "data.train=$src" "$@"
