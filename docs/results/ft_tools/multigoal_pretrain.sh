#!/usr/bin/env bash
# MultiGoal fine-tuning study (issue 14, part B), run from the frozen worktree /work/frozen-14b-mg (commit e7dcf1a).
set -euo pipefail
cd /work/frozen-14b-mg
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=/work/results/ft/mg
CFG=docs/results/multigoal.yaml
log() { echo "$(date -Is) $*" | tee -a $OUT/COMMANDS.log; }
# 1. 4-goal demonstrations: the scripted demonstrator, 500 episodes (2,500 steps)
if [ ! -d $OUT/multigoal4-v0 ]; then
  log "collect scripted:MultiGoal 500 episodes -> $OUT/multigoal4-v0 (python API, genpo.data.collector.collect, seed 0)"
  python -c "from genpo.data.collector import collect; r = collect('scripted:MultiGoal', 500, '$OUT/multigoal4-v0', seed=0); print(r)"
fi
# 2. pretraining (seed 1), 200 epochs, batch 256, lr 1e-3, 10% of episodes held out, 16 evaluation episodes
PT="--dataset $OUT/multigoal4-v0 --config $CFG --epochs 200 --eval-episodes 16 --logdir $OUT/pretrain --seed 1"
pre() { name=$1; shift; if ! ls -d $OUT/pretrain/genpo/MultiGoal/*_$name >/dev/null 2>&1; then
  log "genpo pretrain $PT --run-name $name $*"; /usr/bin/time -f "%e s wall %U s user" genpo pretrain $PT --run-name $name "$@" 2>&1 | tail -3; fi; }
pre gaussian --model gaussian
pre nsf --model nsf --set hidden=[128]
pre euler-fm --integrator euler
pre chain-fm --integrator gaussian-chain
pre chainl-fm --integrator gaussian-chain --set 'policy.options={"noise":"learned"}'
pre edict-fm --integrator edict --objective flow-matching
pre edict-ml --integrator edict --objective likelihood
pre edict-fmml --integrator edict --objective flow-matching+likelihood
pre edict-fm-then-ml --integrator edict --objective flow-matching,likelihood
log "pretraining done"
