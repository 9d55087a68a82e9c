"""Demonstration datasets: read them (Minari by id or folder, ``.npz``, HDF5), check them, and record them.

``load_demonstrations(source)`` returns :class:`Demonstrations` (validated arrays in episode order);
``check_against_env`` checks them against an environment's dims and action bounds; ``collect`` runs a policy or a
scripted demonstrator and writes a Minari dataset (``genpo collect``). Reading ``.npz`` needs only numpy; Minari
datasets and HDF5 files need the ``data`` extra (``pip install 'genpo[data]'``).
"""

from genpo.data.demonstrations import Demonstrations, DemonstrationWarning, check_against_env
from genpo.data.loaders import load_demonstrations, local_dataset_ids, minari_root
from genpo.data.summary import describe_dataset

__all__ = [
    "CollectResult",
    "DemonstrationWarning",
    "Demonstrations",
    "check_against_env",
    "collect",
    "describe_dataset",
    "load_demonstrations",
    "local_dataset_ids",
    "minari_root",
]


def __getattr__(name: str) -> object:
    # collect imports the environments and the training API: only on first use.
    if name in ("collect", "CollectResult"):
        import importlib

        return getattr(importlib.import_module("genpo.data.collector"), name)
    raise AttributeError(f"module 'genpo.data' has no attribute {name!r}")
