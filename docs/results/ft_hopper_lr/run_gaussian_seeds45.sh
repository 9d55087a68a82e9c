#!/usr/bin/env bash
# Hopper-v5: Gaussian at a fixed 1e-5, normalizer updating vs frozen, two more seeds (4, 5).
set -euo pipefail
. "$(dirname "$0")/common.sh"
GA=$(pretrained gaussian)
W="critic_warmup_iterations=5 schedule=fixed learning_rate=1e-5"
grid gauss_seeds45 --env gym:Hopper-v5 \
  --setting "gaussian-lr1e-5=model=gaussian init=$GA $W" \
  --setting "gaussian-lr1e-5-frozen=model=gaussian init=$GA $W freeze_obs_normalizer=true" \
  --seeds 4-5 --total-steps 50000 --episodes 10 --jobs 2
