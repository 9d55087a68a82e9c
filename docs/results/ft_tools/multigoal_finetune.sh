#!/usr/bin/env bash
# MultiGoal fine-tuning from the pretrained checkpoints (issue 14, part B), frozen worktree /work/frozen-14b-mg.
set -euo pipefail
cd /work/frozen-14b-mg
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=/work/results/ft/mg
P=$OUT/pretrain/genpo/MultiGoal
log() { echo "$(date -Is) $*" | tee -a $OUT/COMMANDS.log; }
while ! { grep -q "pretraining done" $OUT/COMMANDS.log && grep -q "pretraining2 done" $OUT/COMMANDS.log; }; do sleep 20; done
run() { ls -d $P/*_$1 | tail -1; }
SEEDS=${SEEDS:-1-3}
W="critic_warmup_iterations=5"
CMD=(genpo ablate --config docs/results/multigoal.yaml
  --setting "gaussian=model=gaussian init=$(run gaussian) $W"
  --setting "nsf=model=nsf hidden=[128] init=$(run nsf) $W"
  --setting "edict-fm=integrator=edict init=$(run edict-fm) $W"
  --setting "edict-ml=integrator=edict init=$(run edict-ml) $W"
  --setting "edict-fmml=integrator=edict init=$(run edict-fmml) $W"
  --setting "edict-fm-then-ml=integrator=edict init=$(run edict-fm-then-ml) $W"
  --setting "chain-fixed=integrator=gaussian-chain init=$(run chain-fm) $W"
  --setting "chain-learned=integrator=gaussian-chain 'policy.options={noise: learned}' init=$(run chainl-fm) $W"
  --setting "euler-cfm=integrator=euler likelihood=cfm init=$(run euler-fm) $W"
  --seeds $SEEDS --total-steps 10240 --episodes 16 --jobs 1 --out $OUT/finetune)
log "${CMD[*]}"
/usr/bin/time -f "%e s wall %U s user" "${CMD[@]}" > $OUT/finetune.log 2>&1 || log "ablate exit $?"
log "finetune seeds $SEEDS done"
