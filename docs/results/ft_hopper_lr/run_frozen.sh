#!/usr/bin/env bash
# Hopper-v5 fine-tuning: frozen observation normalizer, with the small fixed rate and with the adaptive one;
# plus the adaptive Gaussian cells of session 3's grid, to check they reproduce.
set -euo pipefail
. "$(dirname "$0")/common.sh"
FM=$(pretrained fm); GA=$(pretrained gaussian)
W="critic_warmup_iterations=5"
F="freeze_obs_normalizer=true"
grid finetune_frozen --env gym:Hopper-v5 \
  --setting "gaussian-lr1e-5-frozen=model=gaussian init=$GA $W schedule=fixed learning_rate=1e-5 $F" \
  --setting "chain-fixed-lr1e-5-frozen=integrator=gaussian-chain init=$FM $W schedule=fixed learning_rate=1e-5 $F" \
  --setting "euler-cfm-lr1e-5-frozen=integrator=euler likelihood=cfm init=$FM $W schedule=fixed learning_rate=1e-5 $F" \
  --setting "gaussian-frozen=model=gaussian init=$GA $W $F" \
  --setting "chain-fixed-frozen=integrator=gaussian-chain init=$FM $W $F" \
  --setting "euler-cfm-frozen=integrator=euler likelihood=cfm init=$FM $W $F" \
  --setting "gaussian=model=gaussian init=$GA $W" \
  --seeds 1-3 --total-steps 50000 --episodes 10 --jobs 2
