#!/usr/bin/env bash
# docs/results.md section 8: tune FPO (cfm) and GenPO (edict) on Hopper-v5 with the same trial budget, then rerun
# the best configuration of each with 3 fresh seeds x 300k env steps. Run unattended from a frozen copy:
#   nohup nice -n 10 bash docs/results/tune_tools/hopper_pipeline.sh > /work/results/tune/pipeline.log 2>&1 &
# Every stage is timed by /usr/bin/time -v (its log next to the stage's output); every stage resumes when rerun.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=${R:-/work/results/tune}
TRIALS=${TRIALS:-10}
STEPS=${STEPS:-40000}
RERUN_STEPS=${RERUN_STEPS:-300000}
TOOLS=docs/results/tune_tools
mkdir -p "$R"
echo "commit $(git rev-parse --short HEAD), start $(date -u +%FT%TZ)"

study() {  # NAME SETTING
    /usr/bin/time -v -o "$R/time_tune_$1.txt" genpo tune --env gym:Hopper-v5 --setting "$2" \
        --space $TOOLS/space_hopper.yaml --trials "$TRIALS" --seeds 100 --total-steps "$STEPS" --pruner median \
        --objective train --episodes 3 --startup-trials 4 --sampler-seed 0 --jobs 1 --out "$R/$1" \
        > "$R/tune_$1.log" 2>&1 || echo "study $1 exited with $?"
}
# The members exactly as section 2 ran them (the authors' defaults; edict's compress_fraction default is 0.25, 5a).
study fpo "cfm=integrator=euler steps=5 likelihood=cfm" &
study genpo "edict=integrator=edict steps=5 likelihood=exact" &
wait
echo "tuning done $(date -u +%FT%TZ)"

A=$(python $TOOLS/best_setting.py "$R/fpo" cfm-tuned)
B=$(python $TOOLS/best_setting.py "$R/genpo" edict-tuned)
echo "rerun settings: $A | $B"
/usr/bin/time -v -o "$R/time_rerun.txt" genpo ablate --env gym:Hopper-v5 --setting "$A" --setting "$B" \
    --seeds 1-3 --total-steps "$RERUN_STEPS" --episodes 10 --jobs 2 --out "$R/rerun" > "$R/rerun.log" 2>&1 \
    || echo "rerun exited with $?"
echo "reruns done $(date -u +%FT%TZ)"
