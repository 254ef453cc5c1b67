"""One module per top-level command; :mod:`fedmarket.cli` imports each only when it runs."""
