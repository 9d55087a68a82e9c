# The preamble every script of this folder ran with (factored out after the runs; sourced, not run).
# Worktree /work/frozen (its own venv, an editable install of the worktree) at commit bf5a603.
cd /work/frozen
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MINARI_DATASETS_PATH=/work/results/hopper/minari
OUT=/work/results/hopper
P=$OUT/pretrain/genpo/Hopper-v5
log() { echo "$(date -u +%FT%TZ) $*" >> $OUT/COMMANDS.log; }
T() { /usr/bin/time -f "%e s wall %U s user" "$@"; }
pretrained() { ls -d $P/*_"$1" | tail -1; }   # the newest pretraining run called NAME
# grid OUT ARGS...: one genpo ablate into $OUT/OUT, its output in $OUT/OUT.log, the command and its end logged
grid() {
  local out=$1; shift
  log "genpo ablate $* --out $OUT/$out"
  T genpo ablate "$@" --out "$OUT/$out" > "$OUT/$out.log" 2>&1 || log "ablate exit $?"
  log "done $out"
}
