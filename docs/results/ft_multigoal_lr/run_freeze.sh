#!/usr/bin/env bash
# freeze_obs_normalizer on MultiGoal NSF fine-tuning
set -euo pipefail
. "$(dirname "$0")/common.sh"
log "collect"; /usr/bin/time -v $G collect --checkpoint scripted:MultiGoal --episodes 500 --seed 0 --out $R/multigoal4-v0 > $R/collect.log 2>&1
log "pretrain nsf"; /usr/bin/time -v $G pretrain --dataset $R/multigoal4-v0 --config docs/results/multigoal.yaml --epochs 200 --eval-episodes 16 --logdir $R/pretrain --seed 1 --run-name nsf --model nsf --set hidden=[128] > $R/pretrain.log 2>&1
P=$(ls -d $R/pretrain/genpo/MultiGoal/*_nsf | head -1)
log "ablate from $P"
W=critic_warmup_iterations=5
/usr/bin/time -v $G ablate --config docs/results/multigoal.yaml \
  --setting "nsf-updated=model=nsf hidden=[128] init=$P $W" \
  --setting "nsf-frozen=model=nsf hidden=[128] init=$P $W freeze_obs_normalizer=true" \
  --seeds 1-3 --total-steps 10240 --episodes 16 --jobs 1 --out $R/finetune > $R/ablate.log 2>&1
log "plot actions"; $G plot actions $R/finetune --out $R/finetuned_actions > $R/plot.log 2>&1
log "done"
