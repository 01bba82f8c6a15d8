"""scxpy: write Linux sched_ext schedulers in Python."""

__version__ = "0.1.0"
