"""The round protocol: task spec, datasets, weights, payouts, Merkle trees, update checks, the
round computation and the event ledger. Pure functions of chain events and content."""
