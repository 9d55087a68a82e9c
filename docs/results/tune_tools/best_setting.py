"""Prints the best trial of a genpo tune study as a --setting recipe: NAME="field=value ..." (its fixed
setting's fields, then the tuned ones). Usage: python best_setting.py STUDY_DIR NAME"""

import json
import sys
from pathlib import Path

import optuna
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

out, name = Path(sys.argv[1]), sys.argv[2]
identity = json.loads((out / "study.json").read_text())
study = optuna.load_study(
    study_name="genpo-tune", storage=JournalStorage(JournalFileBackend(str(out / "study.journal")))
)
fields = dict(identity["setting"]["fields"])
fields.update(study.best_trial.params)  # the space has no categorical of lists: Optuna's values are the field's
parts = [
    f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}" for k, v in fields.items()
]
print(f"{name}={' '.join(parts)}")
