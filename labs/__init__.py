"""Runnable labs: ``python -m labs.<name> [--quick] [--seeds N] [--logdir DIR] [--data-dir DIR]``."""
