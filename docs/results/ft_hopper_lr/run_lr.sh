#!/usr/bin/env bash
# Hopper-v5: the fine-tuning study of docs/results.md rerun with a small fixed learning rate.
set -euo pipefail
. "$(dirname "$0")/common.sh"
log "genpo train --env gym:Hopper-v5 --model gaussian --total-steps 1000000 --seed 1 --logdir $OUT --run-name expert"
T genpo train --env gym:Hopper-v5 --model gaussian --total-steps 1000000 --seed 1 --logdir $OUT --run-name expert > $OUT/expert.log 2>&1
R=$(ls -d $OUT/genpo/Hopper-v5/*_expert | tail -1)
log "genpo collect --checkpoint $R --episodes 100 --stochastic --seed 0 --out genpo/hopper-medium-v0"
T genpo collect --checkpoint $R --episodes 100 --stochastic --seed 0 --out genpo/hopper-medium-v0 > $OUT/collect.log 2>&1
genpo dataset genpo/hopper-medium-v0 >> $OUT/collect.log 2>&1
PT="--dataset genpo/hopper-medium-v0 --epochs 20 --eval-episodes 10 --logdir $OUT/pretrain --seed 1"
log "genpo pretrain $PT --run-name fm --integrator euler"
T genpo pretrain $PT --run-name fm --integrator euler > $OUT/pretrain_fm.log 2>&1
log "genpo pretrain $PT --run-name gaussian --model gaussian"
T genpo pretrain $PT --run-name gaussian --model gaussian > $OUT/pretrain_gaussian.log 2>&1
FM=$(pretrained fm); GA=$(pretrained gaussian)
W="critic_warmup_iterations=5 schedule=fixed learning_rate=1e-5"
grid finetune_lr --env gym:Hopper-v5 \
  --setting "gaussian-lr1e-5=model=gaussian init=$GA $W" \
  --setting "chain-fixed-lr1e-5=integrator=gaussian-chain init=$FM $W" \
  --setting "euler-cfm-lr1e-5=integrator=euler likelihood=cfm init=$FM $W" \
  --seeds 1-3 --total-steps 50000 --episodes 10 --jobs 2
