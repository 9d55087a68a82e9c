#!/usr/bin/env bash
# Hopper-v5 fine-tuning: the adaptive-rate, updating-normalizer cells of session 3's grid for the FM network
# (chain-fixed, euler-cfm), rerun beside the frozen-normalizer ones. Worktree /work/frozen at bf5a603.
set -euo pipefail
cd /work/frozen
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MINARI_DATASETS_PATH=/work/results/hopper/minari
OUT=/work/results/hopper
log() { echo "$(date -u +%FT%TZ) $*" >> $OUT/COMMANDS.log; }
T() { /usr/bin/time -f "%e s wall %U s user" "$@"; }
P=$OUT/pretrain/genpo/Hopper-v5; FM=$(ls -d $P/*_fm | tail -1)
W="critic_warmup_iterations=5"
CMD=(genpo ablate --env gym:Hopper-v5
  --setting "chain-fixed=integrator=gaussian-chain init=$FM $W"
  --setting "euler-cfm=integrator=euler likelihood=cfm init=$FM $W"
  --seeds 1-3 --total-steps 50000 --episodes 10 --jobs 2 --out $OUT/finetune_adaptive)
log "${CMD[*]}"
T "${CMD[@]}" > $OUT/finetune_adaptive.log 2>&1 || log "ablate exit $?"
log "done adaptive"
