"""Float tolerances of the audit: how far a recomputed float may drift before it is a mismatch.

Differences within a tolerance are reported as noise (another machine's arithmetic), never as a
failure. Kept in a module of its own so that commands can show the default without importing
the round computation.
"""

#: Absolute tolerance on accuracies and losses the audit recomputes.
DEFAULT_TOLERANCE = 1e-9
