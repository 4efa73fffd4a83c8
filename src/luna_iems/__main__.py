"""`python -m luna_iems` is the `luna` command."""

from luna_iems.cli.app import main

main()
