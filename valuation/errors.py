"""The exception tree of the pure ``valuation`` package (it imports nothing else of ours).

::

    ValuationError
    ├── GameError (ValueError)          the game is unusable: no players, a non-finite utility,
    │                                   a coalition outside ``0..n-1``, too many players for a method
    ├── MethodError (ValueError)        unknown method name or an option a method does not take
    ├── ResultError (ValueError)        a ValuationResult whose fields contradict each other
    ├── AllocationError (ValueError)    a budget, value vector, cap or group that cannot be allocated
    ├── ValuationConfigError (ValueError)  a task's valuation policy with an unknown or
    │                                   out-of-range setting
    └── ReportError (ValueError)        a valuation report that cannot be read or built

Each subclass also derives from :class:`ValueError`, so callers that only know the built-in
still catch bad input; callers that want to tell valuation failures apart catch the root.
"""

from __future__ import annotations


class ValuationError(Exception):
    """Root of every error raised by ``valuation``."""


class GameError(ValuationError, ValueError):
    """The cooperative game (utility) cannot be valued as given."""


class MethodError(ValuationError, ValueError):
    """An unknown valuation method, or options it does not accept."""


class ResultError(ValuationError, ValueError):
    """A valuation result whose fields are inconsistent."""


class AllocationError(ValuationError, ValueError):
    """Values, budget, caps or duplicate groups that cannot be turned into payouts."""


class ValuationConfigError(ValuationError, ValueError):
    """A valuation policy (a task spec's ``valuation`` object) that cannot be used as given."""


class ReportError(ValuationError, ValueError):
    """A report that cannot be read or built: unknown schema, missing or inconsistent fields."""
