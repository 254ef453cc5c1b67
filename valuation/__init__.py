"""Contribution valuation and fairness-aware allocation for federated rounds (pure: no chain, no IPFS, no web)."""
