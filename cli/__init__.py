"""The ``genpo`` command-line interface (installed as ``genpo.cli``)."""
