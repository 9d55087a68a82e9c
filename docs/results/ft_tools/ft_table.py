"""Pretrained vs fine-tuned, per setting: pretrained returns (pretrain.json) and fine-tuned cells (cell.json,
and the modes of actions.csv when given)."""

import csv
import glob
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ft_root, actions_csv = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
modes = defaultdict(dict)
if actions_csv:
    for r in csv.DictReader(open(actions_csv)):
        modes[r["setting"]][int(r["seed"])] = (int(r["modes_held"]), float(r["near_any"]))
cells = defaultdict(list)
for f in sorted(glob.glob(f"{ft_root}/genpo/*/*/cell.json")):
    c = json.load(open(f))
    if c.get("state") != "done":
        continue
    init = c["config"]["run"]["init"]
    pre = json.load(open(Path(init).parent / "pretrain.json"))["metrics"]
    cells[c["setting"]].append((c["seed"], np.mean(c["eval_returns"]), pre, c.get("seconds", 0)))
cols = (
    "| setting | pretrained: return det. / stoch. | pretrained: modes held | seeds "
    "| fine-tuned: eval return per seed | mean ± std |"
)
if actions_csv:
    cols += " fine-tuned: modes held per seed | near a goal |"
print(cols)
print("|" + "---|" * (cols.count("|") - 1))
for setting, rows in cells.items():
    rows.sort()
    pre = rows[0][2]
    ev = [r[1] for r in rows]
    line = (
        f"| {setting} | {pre['return_deterministic']:.2f} / {pre['return_stochastic']:.2f} | "
        f"{pre.get('modes_held', '')} | "
        f"{len(rows)} | {', '.join(f'{x:.2f}' for x in ev)} | {np.mean(ev):.2f} ± {np.std(ev):.2f} |"
    )
    if actions_csv:
        m = modes.get(setting, {})
        line += (
            f" {', '.join(str(m[s][0]) for s, *_ in rows if s in m)} |"
            f" {np.mean([m[s][1] for s, *_ in rows if s in m]):.2f} |"
        )
    print(line)
