"""`python -m cardservice.cli`: the `cardservice` command without its console script."""

from . import main

main()
