"""Markdown table of genpo pretrain runs (pretrain.json + params) under a folder: one row per run."""

import glob
import json
import sys
from pathlib import Path

import yaml

rows = []
for f in sorted(glob.glob(f"{sys.argv[1]}/genpo/*/*/pretrain.json")):
    run = Path(f).parent
    m = json.load(open(f))["metrics"]
    cfg = yaml.safe_load(open(run / "params" / "config.yaml"))
    pre = yaml.safe_load(open(run / "params" / "pretrain.yaml"))
    p = cfg["policy"]
    fam = (
        p["model"]
        if p["model"] != "flow"
        else f"flow {p['integrator']}"
        + (" (learned noise)" if (p.get("options") or {}).get("noise") == "learned" else "")
    )
    name = run.name.split("_", 2)[-1]
    held = m.get("modes_held", "")
    shares = ", ".join(f"{s:.2f}" for s in m.get("mode_shares", [])) if "mode_shares" in m else ""
    rows.append(
        f"| {name} | {fam} | {' then '.join(pre['objectives'])} | {pre['epochs']} | {m['train_loss']:.3f} | "
        f"{m.get('val_loss', float('nan')):.3f} | {m['action_sw2']:.3f} | {held} | {shares} | "
        f"{m['return_deterministic']:.2f} | {m['return_stochastic']:.2f} | {m['seconds']:.0f} |"
    )
print(
    "| run | policy | objective | epochs | train loss | val loss | action SW2 | modes held | shares at the 4 goals | "
    "return (det.) | return (stoch.) | pretraining s |"
)
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
