#!/usr/bin/env bash
# Hopper-v5 fine-tuning study (issue 14, part B), frozen worktree /work/frozen-14b-hop (commit 39e7440).
set -euo pipefail
cd /work/frozen-14b-hop
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MINARI_DATASETS_PATH=/work/results/ft/minari
OUT=/work/results/ft/hopper
P=$OUT/pretrain/genpo/Hopper-v5
log() { echo "$(date -Is) $*" | tee -a $OUT/COMMANDS.log; }
PT="--dataset genpo/hopper-medium-v0 --epochs 20 --eval-episodes 10 --logdir $OUT/pretrain --seed 1"
pre() { name=$1; shift; if ! ls -d $P/*_$name >/dev/null 2>&1; then
  log "MINARI_DATASETS_PATH=/work/results/ft/minari genpo pretrain $PT --run-name $name $*"
  /usr/bin/time -f "%e s wall %U s user" genpo pretrain $PT --run-name $name "$@" > $OUT/pretrain_$name.log 2>&1; tail -4 $OUT/pretrain_$name.log; fi; }
pre fm --integrator euler
pre gaussian --model gaussian
run() { ls -d $P/*_$1 | tail -1; }
W="critic_warmup_iterations=5"
for SEEDS in 1 1-2 1-3; do
  CMD=(genpo ablate --env gym:Hopper-v5
    --setting "gaussian=model=gaussian init=$(run gaussian) $W"
    --setting "edict=integrator=edict init=$(run fm) $W"
    --setting "chain-fixed=integrator=gaussian-chain init=$(run fm) $W"
    --setting "chain-learned=integrator=gaussian-chain 'policy.options={noise: learned}' init=$(run fm) $W"
    --setting "euler-cfm=integrator=euler likelihood=cfm init=$(run fm) $W"
    --seeds $SEEDS --total-steps 50000 --episodes 10 --jobs 2 --out $OUT/finetune)
  log "${CMD[*]}"
  /usr/bin/time -f "%e s wall %U s user" "${CMD[@]}" > $OUT/finetune_$SEEDS.log 2>&1 || log "ablate exit $?"
  log "finetune seeds $SEEDS done"
done
