"""``python -m fedmarket``: the same as the ``fedmarket`` console script."""

from fedmarket.cli import main

main()
