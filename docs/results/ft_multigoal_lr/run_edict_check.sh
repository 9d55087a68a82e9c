#!/usr/bin/env bash
set -euo pipefail
. "$(dirname "$0")/common.sh"
log "pretrain edict-fm"
$G pretrain --dataset $R/multigoal4-v0 --config docs/results/multigoal.yaml --epochs 200 --eval-episodes 16 --logdir $R/pretrain --seed 1 --run-name edict-fm --integrator edict --objective flow-matching > $R/pretrain_edict.log 2>&1
P=$(ls -d $R/pretrain/genpo/MultiGoal/*_edict-fm | head -1)
log "ablate edict from $P"
$G ablate --config docs/results/multigoal.yaml --setting "edict-fm=integrator=edict init=$P critic_warmup_iterations=5" \
  --seeds 1-3 --total-steps 10240 --episodes 16 --jobs 1 --out $R/edict_from_edict > $R/ablate_edict.log 2>&1
log "done edict"
# then, by hand (COMMANDS.log):
# genpo ablate --config docs/results/multigoal.yaml --setting "edict-fm-f1=integrator=edict init=$P critic_warmup_iterations=5 compress_fraction=1" \
#   --seeds 1-3 --total-steps 10240 --episodes 16 --jobs 1 --out $R/edict_f1
