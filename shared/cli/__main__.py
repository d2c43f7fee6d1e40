"""``python -m shared.cli``: the same as ``renkei``."""

from shared.cli import main

if __name__ == "__main__":  # not again in a spawned process (the capture writer)
    main()
