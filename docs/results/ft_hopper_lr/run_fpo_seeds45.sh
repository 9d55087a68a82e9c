#!/usr/bin/env bash
# Hopper-v5: FPO adaptive, normalizer updating vs frozen, two more seeds (4, 5).
set -euo pipefail
. "$(dirname "$0")/common.sh"
FM=$(pretrained fm)
W="critic_warmup_iterations=5"
grid fpo_seeds45 --env gym:Hopper-v5 \
  --setting "euler-cfm=integrator=euler likelihood=cfm init=$FM $W" \
  --setting "euler-cfm-frozen=integrator=euler likelihood=cfm init=$FM $W freeze_obs_normalizer=true" \
  --seeds 4-5 --total-steps 50000 --episodes 10 --jobs 2
