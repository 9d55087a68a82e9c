#!/usr/bin/env bash
# Hopper-v5: FPO adaptive, normalizer updating vs frozen, two more seeds (4, 5). Worktree /work/frozen at bf5a603.
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
  --setting "euler-cfm=integrator=euler likelihood=cfm init=$FM $W"
  --setting "euler-cfm-frozen=integrator=euler likelihood=cfm init=$FM $W freeze_obs_normalizer=true"
  --seeds 4-5 --total-steps 50000 --episodes 10 --jobs 2 --out $OUT/fpo_seeds45)
log "${CMD[*]}"
T "${CMD[@]}" > $OUT/fpo_seeds45.log 2>&1 || log "ablate exit $?"
log "done fpo seeds 4-5"
