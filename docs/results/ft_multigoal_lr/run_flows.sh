#!/usr/bin/env bash
# flow members' fine-tuning on MultiGoal: adaptive lr (section defaults) vs small fixed lr
set -euo pipefail
. "$(dirname "$0")/common.sh"
log "pretrain euler-fm"
/usr/bin/time -v $G pretrain --dataset $R/multigoal4-v0 --config docs/results/multigoal.yaml --epochs 200 --eval-episodes 16 --logdir $R/pretrain --seed 1 --run-name euler-fm --integrator euler > $R/pretrain_fm.log 2>&1
P=$(ls -d $R/pretrain/genpo/MultiGoal/*_euler-fm | head -1)
W=critic_warmup_iterations=5
S=(--setting "edict=integrator=edict init=$P $W"
   --setting "euler-cfm=integrator=euler likelihood=cfm init=$P $W"
   --setting "chain=integrator=gaussian-chain init=$P $W")
log "ablate flows adaptive from $P"
/usr/bin/time -v $G ablate --config docs/results/multigoal.yaml "${S[@]}" \
  --seeds 1-3 --total-steps 10240 --episodes 16 --jobs 1 --out $R/flows_adaptive > $R/ablate_flows_adaptive.log 2>&1
log "ablate flows fixed"
F=(--setting "edict=integrator=edict init=$P $W schedule=fixed"
   --setting "euler-cfm=integrator=euler likelihood=cfm init=$P $W schedule=fixed"
   --setting "chain=integrator=gaussian-chain init=$P $W schedule=fixed")
/usr/bin/time -v $G ablate --config docs/results/multigoal.yaml "${F[@]}" --vary lr=1e-5,1e-4 \
  --seeds 1-3 --total-steps 10240 --episodes 16 --jobs 1 --out $R/flows_fixed > $R/ablate_flows_fixed.log 2>&1
log "plot flows"
$G plot $R/flows_adaptive $R/flows_fixed --out $R/flows_combined --baseline "FM pretrained (stoch., euler)=2.13" > $R/plot_flows.log 2>&1
$G plot actions $R/flows_adaptive $R/flows_fixed --out $R/flows_combined/actions > $R/plot_flows_actions.log 2>&1
log "done flows"
