"""``python -m shared.cli``: the same as ``renkei``."""

from shared.cli import main

main()
