#!/usr/bin/env bash
# Hopper-v5 fine-tuning: frozen observation normalizer, with the small fixed rate and with the adaptive one;
# plus the adaptive Gaussian cells of session 3's grid, to check they reproduce. Worktree /work/frozen at bf5a603.
set -euo pipefail
cd /work/frozen
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MINARI_DATASETS_PATH=/work/results/hopper/minari
OUT=/work/results/hopper
log() { echo "$(date -u +%FT%TZ) $*" >> $OUT/COMMANDS.log; }
T() { /usr/bin/time -f "%e s wall %U s user" "$@"; }
P=$OUT/pretrain/genpo/Hopper-v5; FM=$(ls -d $P/*_fm | tail -1); GA=$(ls -d $P/*_gaussian | tail -1)
W="critic_warmup_iterations=5"
F="freeze_obs_normalizer=true"
CMD=(genpo ablate --env gym:Hopper-v5
  --setting "gaussian-lr1e-5-frozen=model=gaussian init=$GA $W schedule=fixed learning_rate=1e-5 $F"
  --setting "chain-fixed-lr1e-5-frozen=integrator=gaussian-chain init=$FM $W schedule=fixed learning_rate=1e-5 $F"
  --setting "euler-cfm-lr1e-5-frozen=integrator=euler likelihood=cfm init=$FM $W schedule=fixed learning_rate=1e-5 $F"
  --setting "gaussian-frozen=model=gaussian init=$GA $W $F"
  --setting "chain-fixed-frozen=integrator=gaussian-chain init=$FM $W $F"
  --setting "euler-cfm-frozen=integrator=euler likelihood=cfm init=$FM $W $F"
  --setting "gaussian=model=gaussian init=$GA $W"
  --seeds 1-3 --total-steps 50000 --episodes 10 --jobs 2 --out $OUT/finetune_frozen)
log "${CMD[*]}"
T "${CMD[@]}" > $OUT/finetune_frozen.log 2>&1 || log "ablate exit $?"
log "done frozen"
