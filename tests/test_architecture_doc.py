"""The code blocks of docs/architecture.md run as written (in a subprocess: they register new parts)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_architecture_snippets_run(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 4  # routing + one recipe each for integrators, estimators, velocity networks
    script = tmp_path / "snippets.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pf-ode(rk4, steps=5) gaussian" in done.stdout
    assert "unknown option(s) depth" in done.stdout
    assert "compatible estimators: exact, jacobian" in done.stdout
