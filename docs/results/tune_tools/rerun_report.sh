#!/usr/bin/env bash
# docs/results.md section 8: the table and figure of the 3-seed reruns, beside section 5a's runs of GenPO's
# current defaults (edict, compress_fraction 0.25; section 2's cfm runs are not on this machine: their numbers
# are in docs/results/hopper_zoo/summary.md). Run from the repository root once the pipeline's reruns are done.
set -euo pipefail
R=${R:-/work/results/tune}
F=${F:-/work/results/f15/hopper/genpo/Hopper-v5}
genpo plot "$R"/rerun/genpo/Hopper-v5/cfm-tuned_s? "$R"/rerun/genpo/Hopper-v5/edict-tuned_s? "$F"/f0.25_s? \
    --out docs/results/hopper_tuned --smooth 10
