"""``python -m genpo`` (what ``torchrun -m genpo`` runs) is the ``genpo`` command."""

from genpo.cli.main import main
from genpo.training.distributed import launched_by_torchrun, run_rank

if launched_by_torchrun():
    run_rank(main)  # a rank leaves without interpreter teardown (run_rank says why)
else:
    main()
