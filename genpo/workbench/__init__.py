"""The ablation workbench: grids of runs (``genpo ablate``), their summaries and figures (``genpo plot``)."""
