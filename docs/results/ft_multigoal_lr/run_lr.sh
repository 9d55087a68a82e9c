#!/usr/bin/env bash
# NSF fine-tuning with DPPO-style small fixed learning rates
set -euo pipefail
. "$(dirname "$0")/common.sh"
P=$(ls -d $R/pretrain/genpo/MultiGoal/*_nsf | head -1)
W=critic_warmup_iterations=5
log "ablate fixed lr from $P"
/usr/bin/time -v $G ablate --config docs/results/multigoal.yaml \
  --setting "nsf-fixed=model=nsf hidden=[128] init=$P $W schedule=fixed" \
  --vary lr=1e-5,3e-5,1e-4 \
  --seeds 1-3 --total-steps 10240 --episodes 16 --jobs 1 --out $R/finetune_lr > $R/ablate_lr.log 2>&1
log "plot actions lr"; $G plot actions $R/finetune_lr --out $R/finetuned_lr_actions > $R/plot_lr.log 2>&1
log "done lr"
