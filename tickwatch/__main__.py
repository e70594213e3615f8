"""``python -m tickwatch`` = the ``tickwatch`` command."""

from tickwatch.cli import main

main()
