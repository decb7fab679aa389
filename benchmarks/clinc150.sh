#!/usr/bin/env bash
# smart_reply on CLINC150 (150 in-scope intents), as a user would run it.
# Usage: bash benchmarks/clinc150.sh [path/to/clinc150] [--set ...]
set -euo pipefail
src=${1:-../shared/datasets/smart_reply/clinc150}; shift || true
data=${DATA_DIR:-/tmp/clinc150}
mkdir -p "$data"
# data_full.json holds {split: [[text, intent], ...]}; the one-liner writes one CSV per split.
# With OOS=1 each split also gets its out-of-scope messages (oos_train, oos_val, oos_test;
# label "oos", smart_reply's data.out_of_scope_label): CLINC150's "oos-train" setting.
python -c "import csv,json,sys; d=json.load(open(sys.argv[1])); [csv.writer(open(f'{sys.argv[2]}/{s}.csv','w',newline='')).writerows([('text','label')]+d[s]+(d['oos_'+s] if sys.argv[3]=='1' else [])) for s in ('train','val','test')]" "$src/data_full.json" "$data" "${OOS:-0}"
time seqtasks run benchmarks/clinc150.toml \
  --set data.train="$data/train.csv" --set data.validation="$data/val.csv" \
  --set data.test="$data/test.csv" "$@"
