"""`python -m hotline …`: the same command line as the `hotline` script (the Procfile's worker uses it)."""

from hotline.cli import main

main()
