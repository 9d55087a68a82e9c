#!/usr/bin/env bash
# Hopper-v5 fine-tuning: the adaptive-rate, updating-normalizer cells of session 3's grid for the FM network
# (chain-fixed, euler-cfm), rerun beside the frozen-normalizer ones.
set -euo pipefail
. "$(dirname "$0")/common.sh"
FM=$(pretrained fm)
W="critic_warmup_iterations=5"
grid finetune_adaptive --env gym:Hopper-v5 \
  --setting "chain-fixed=integrator=gaussian-chain init=$FM $W" \
  --setting "euler-cfm=integrator=euler likelihood=cfm init=$FM $W" \
  --seeds 1-3 --total-steps 50000 --episodes 10 --jobs 2
