#!/usr/bin/env bash
# smart_reply on CLINC150 (150 in-scope intents), as a user would run it.
# Usage: bash benchmarks/clinc150.sh [path/to/clinc150] [--set ...]
set -euo pipefail
src=${1:-../shared/datasets/smart_reply/clinc150}; shift || true
data=${DATA_DIR:-/tmp/clinc150}
mkdir -p "$data"
# data_full.json holds {split: [[text, intent], ...]}; the one-liner writes one CSV per split.
python -c "import csv,json,sys; d=json.load(open(sys.argv[1])); [csv.writer(open(f'{sys.argv[2]}/{s}.csv','w',newline='')).writerows([('text','label')]+d[s]) for s in ('train','val','test')]" "$src/data_full.json" "$data"
time seqtasks run benchmarks/clinc150.toml \
  --set data.train="$data/train.csv" --set data.validation="$data/val.csv" \
  --set data.test="$data/test.csv" "$@"
