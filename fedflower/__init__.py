"""fedmarket inside a Flower app: paid rounds over Flower's deployment runtime.

Server side, :class:`fedflower.strategy.PaidStrategy` wraps a Flower strategy so that each
round runs fedmarket's protocol as messages (train and commit, then reveal) and settles
on-chain through the coordinator's round computation. Client side,
:func:`fedflower.client.fedmarket_mod` and :func:`fedflower.client.add_paid_steps` make an
existing ClientApp commit its training results, reveal them and claim its payment, with the
key named in the SuperNode's node config. Needs the optional extra: ``pip install
'fedmarket[flower]'`` (``flwr``). See ``examples/flower-digits`` and ``docs/deployment.md``.
"""
