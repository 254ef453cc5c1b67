"""The exception tree of fedmarket (everything outside the pure `valuation` package).

Every error a user can cause or meet derives from :class:`FedmarketError`, and the CLI turns
any of them into a one-line explanation with no traceback. Subclasses also inherit the
matching built-in where that helps callers (``except ValueError`` still works).

::

    FedmarketError
    ├── ConfigError (ValueError)             bad settings, missing files, missing tools
    ├── DevnetError (RuntimeError)           the local chain cannot start, stop or be found
    ├── ChainError (RuntimeError)            the JSON-RPC endpoint is unreachable or misbehaves
    │   └── ContractRevert                   a transaction or call reverted (decoded custom error)
    ├── StorageError (OSError)               the content store cannot do what was asked
    │   ├── ContentNotFound (LookupError)    a CID or block is not in the store
    │   ├── CorruptContent (ValueError)      bytes on disk or from a daemon do not hash to their CID
    │   ├── CidMismatch (ValueError)         a backend returned a CID other than the one computed here
    │   └── BackendUnavailable               the Kubo RPC API timed out or is down
    ├── InvalidUpdate (ValueError)           a model or update blob fails validation
    │   ├── ShapeMismatch                    names, shapes or dtypes differ from the model spec
    │   ├── NonFiniteWeights                 NaN or Inf in a tensor
    │   └── OversizedInput                   the blob or a tensor exceeds the configured limits
    ├── ProtocolError (RuntimeError)         a round cannot proceed (late, wrong phase, ...)
    └── AuditMismatch (AssertionError)       recomputation disagrees with the ledger
"""

from __future__ import annotations


class FedmarketError(Exception):
    """Root of every fedmarket error; carries a message meant for the user."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def user_message(self) -> str:
        """The one-line explanation the CLI prints, with what to do next when known."""
        text = str(self)
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(FedmarketError, ValueError):
    """Settings, files or tools the user must fix before fedmarket can run."""


class DevnetError(FedmarketError, RuntimeError):
    """The local development chain cannot be started, stopped or found."""


class ChainError(FedmarketError, RuntimeError):
    """The JSON-RPC endpoint is unreachable or answered something unusable."""


class ContractRevert(ChainError):
    """A call or transaction reverted; ``error_name`` and ``error_args`` are the decoded error.

    ``message`` and ``hint`` are the sentence and advice from the revert table
    (:mod:`marketplace.chain.revert_messages`); without them the raw form is shown.
    """

    def __init__(
        self,
        name: str,
        args: tuple[object, ...] = (),
        *,
        function: str = "",
        message: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.error_name = name
        self.error_args = args
        self.function = function
        if message is None:
            shown = ", ".join(str(a) for a in args)
            where = f"{function}: " if function else ""
            message = f"{where}reverted with {name}({shown})"
        super().__init__(message, hint=hint)


class StorageError(FedmarketError, OSError):
    """The content store cannot complete the request."""


class ContentNotFound(StorageError, LookupError):
    """A CID (or one of its blocks) is not available from the store."""


class CorruptContent(StorageError, ValueError):
    """Stored or received bytes do not hash to the CID they are filed under."""


class CidMismatch(StorageError, ValueError):
    """A backend reported a CID that differs from the one computed locally."""


class BackendUnavailable(StorageError):
    """The storage backend (Kubo RPC API) timed out or refused the connection."""


class InvalidUpdate(FedmarketError, ValueError):
    """A model or update blob failed validation against the task's model spec."""


class ShapeMismatch(InvalidUpdate):
    """Tensor names, shapes or dtypes differ from what the model spec requires."""


class NonFiniteWeights(InvalidUpdate):
    """A tensor holds NaN or Inf."""


class OversizedInput(InvalidUpdate):
    """The blob, or one of its tensors, is larger than the configured limit."""


class ProtocolError(FedmarketError, RuntimeError):
    """The round protocol cannot proceed as asked (wrong phase, deadline passed, ...)."""


class AuditMismatch(FedmarketError, AssertionError):
    """A recomputed value differs from what the ledger records."""
