#!/usr/bin/env bash
# Figs. 7-11 and Table I from ONE universal network: train it once, then score it at
# every point of each sweep without training (train.py universal_run=...), then plot.
#
#   scripts/reproduce_universal.sh [full|quick] [more Hydra overrides for the training run]
#
# The universal run lands in outputs/train/universal_<preset>; the sweeps in
# outputs/sweeps/<experiment>/<preset>/ beside the per-point networks' sweeps, so the
# figures (outputs/figures/universal_<preset>/) draw both where both exist.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-full}
shift || true
run=outputs/train/universal_$preset
start=$SECONDS
rm -rf "$run"  # a fresh run: a half-finished one would be resumed by hand, not here
python train.py model=universal "preset=$preset" "hydra.run.dir=$run" "$@"
echo "== universal network trained after $((SECONDS - start)) s"
for experiment in fig7 fig8 fig9 fig10 fig11; do
    python train.py -m "experiment=$experiment" "preset=$preset" "universal_run=$run" \
        hydra/launcher=joblib
    echo "== $experiment scored after $((SECONDS - start)) s"
done
python train.py -m experiment=table1 "preset=$preset" "universal_run=$run"
echo "== table1 scored after $((SECONDS - start)) s"
python figures.py "sweep_preset=$preset" "figures=[fig7,fig8,fig9,fig10,fig11,table1]" \
    "out=outputs/figures/universal_$preset"
echo "== all figures in $((SECONDS - start)) s"
