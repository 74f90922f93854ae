"""`python -m foryou` runs the CLI."""

from foryou.cli import main

main()
