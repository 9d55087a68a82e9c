# The preamble every script of this folder ran with (factored out after the runs; sourced, not run).
# The library at commit 328e8bd from the worktree /work/frozen2 on PYTHONPATH (genpo.cli resolved to the
# working checkout through its editable install; see docs/results.md).
cd /work/frozen2
export PYTHONPATH=/work/frozen2
G="/work/main/.venv/bin/python -m genpo"
R=/work/results/freeze
log() { echo "$(date -u +%FT%TZ) $*" >> $R/COMMANDS.log; }
