#!/usr/bin/env bash
# The FM-pretrained network under each fine-tuning sampler, before any actor update: one warm-up iteration
# (critic only: the actor stays bit-identical), then genpo play (10 episodes, deterministic and stochastic).
set -euo pipefail
cd /work/frozen-14b-hop
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=/work/results/ft/hopper
FM=$(ls -d $OUT/pretrain/genpo/Hopper-v5/*_fm | tail -1)
log() { echo "$(date -Is) $*" | tee -a $OUT/COMMANDS.log; }
for spec in "edict:--integrator edict" "chain-fixed:--integrator gaussian-chain" \
            "chain-learned:--integrator gaussian-chain --set policy.options={noise: learned}" "euler:--integrator euler"; do
  name=${spec%%:*}; args=${spec#*:}
  if [ "$name" = chain-learned ]; then
    log "genpo train --init $FM --integrator gaussian-chain --set 'policy.options={noise: learned}' --max-iterations 1 --set algo.critic_warmup_iterations=1 --logdir $OUT/baseline --run-name $name"
    genpo train --init $FM --integrator gaussian-chain --set 'policy.options={noise: learned}' --max-iterations 1 --set algo.critic_warmup_iterations=1 --logdir $OUT/baseline --run-name $name > /dev/null
  else
    log "genpo train --init $FM $args --max-iterations 1 --set algo.critic_warmup_iterations=1 --logdir $OUT/baseline --run-name $name"
    genpo train --init $FM $args --max-iterations 1 --set algo.critic_warmup_iterations=1 --logdir $OUT/baseline --run-name $name > /dev/null
  fi
  R=$(ls -d $OUT/baseline/genpo/Hopper-v5/*_$name | tail -1)
  for mode in --deterministic --stochastic; do
    log "genpo play --checkpoint $R --episodes 10 $mode"
    genpo play --checkpoint $R --episodes 10 $mode 2>&1 | tail -1 | tee -a $OUT/baselines.txt
  done
done
