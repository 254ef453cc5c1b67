"""fedmarket's application layer: every command, the demo, and the wiring between packages.

It is the only package that imports all the others (``marketplace``, ``participant``,
``devnet``, ``valuation``); it parses input and prints output and holds no protocol logic.
"""
