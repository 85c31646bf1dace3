#!/usr/bin/env bash
# Every figure and table of the paper: the seven sweeps, then the plots.
#
#   scripts/reproduce_paper.sh [full|quick] [more Hydra overrides for every sweep]
#
# Sweeps run two jobs at a time with the joblib launcher (Table I's jobs run one at a
# time, see conf/experiment/table1.yaml); figures land in outputs/figures/<preset>/.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-full}
shift || true
start=$SECONDS
for experiment in fig6 fig7 fig8 fig9 fig10 fig11; do
    python train.py -m "experiment=$experiment" "preset=$preset" hydra/launcher=joblib "$@"
    echo "== $experiment done after $((SECONDS - start)) s"
done
python train.py -m experiment=table1 "preset=$preset" "$@"
echo "== table1 done after $((SECONDS - start)) s"
python figures.py "sweep_preset=$preset"
echo "== all figures in $((SECONDS - start)) s"
