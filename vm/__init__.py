"""The 6.12 guest: kernel acquisition (kernel.py) and the virtme-ng runner (runner.py)."""
