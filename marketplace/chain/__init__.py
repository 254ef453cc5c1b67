"""Talking to the EVM chain: connections, signed transactions, the Marketplace client and events."""
