"""`python -m shared.cli`: the same as the `renkei` command."""

from shared.cli import main

main()
