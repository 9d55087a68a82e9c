"""``python -m genpo`` (what ``torchrun -m genpo`` runs) is the ``genpo`` command."""

from genpo.cli.main import main

main()
