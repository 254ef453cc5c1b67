"""What a contract revert means to the user: one table from custom-error name to a sentence and a hint.

:class:`~marketplace.chain.reverts.RevertDecoder` names a revert (``MarketplaceStakeTooLow``
with ``taskId``, ``stake``, ``minStake``); :func:`explain` turns it into what the CLI, the
API and the logs show: "stake 1 FMT is below task 3's minimum of 10 FMT (stake at least
10 FMT)". Templates are :meth:`str.format` strings whose fields are the error's ABI argument
names (and ``{function}``, the contract function that reverted); each argument is shown by
:data:`ARGUMENT_FORMATS` (amounts as ``1,000 FMT``, phases as words, timestamps as UTC times,
addresses checksummed).

To add an error (a new custom error in the contract ABI): add a :data:`REVERTS` entry, and
classify any new integer argument in :data:`ARGUMENT_FORMATS`. A test fails until both are done
(``tests/marketplace/chain/test_revert_messages.py``). Wording that only fits one function goes
in :data:`REVERTS_BY_CALL`; wording for one special argument value (round 0 of
``MarketplaceNothingToClaim``: an empty claim) in :data:`REVERTS_BY_VALUE`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from marketplace.chain.structs import Phase
from marketplace.units import format_amount


@dataclass(frozen=True)
class RevertText:
    """A sentence saying what went wrong, and what to do about it (both templates)."""

    says: str
    todo: str | None = None


def _amount(value: Any) -> str:
    return format_amount(int(value))


#: Words for ``Phase`` values, to read as "task 3 is <words>".
PHASE_WORDS: dict[Phase, str] = {
    Phase.NONE: "unknown",
    Phase.CREATED: "waiting for its first round",
    Phase.COMMIT: "taking commitments",
    Phase.REVEAL: "taking reveals",
    Phase.SETTLE: "waiting for its aggregator's settlement",
    Phase.CHALLENGE: "in a challenge window",
    Phase.FINAL: "between rounds",
    Phase.ENDED: "finished",
    Phase.CANCELLED: "cancelled",
    Phase.EVIDENCE: "taking challengers' evidence",
    Phase.RULING: "awaiting the arbiter's ruling on a challenge",
}


def phase_words(value: Any) -> str:
    """A ``Phase`` (or its uint8) in words."""
    try:
        return PHASE_WORDS[Phase(int(value))]
    except ValueError:
        return f"in phase {value}"


def utc_time(value: Any) -> str:
    """A block timestamp as a UTC time people can compare with a clock."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(value)))


def _plain(value: Any) -> str:
    return str(value)


def _short_hex(value: Any) -> str:
    text = str(value)
    return f"{text[:10]}…{text[-4:]}" if len(text) > 16 else text


def _address(value: Any) -> str:
    text = str(value)
    try:
        return str(to_checksum_address(text))
    except (ValueError, TypeError):
        return text


#: How each argument is shown, by its ABI name. Every integer argument of every error must be
#: listed (a test checks it): an amount shown as a plain integer is exactly the bug this avoids.
ARGUMENT_FORMATS: dict[str, Callable[[Any], str]] = {
    # token amounts
    "stake": _amount,
    "minStake": _amount,
    "maxStake": _amount,
    "amount": _amount,
    "totalPaid": _amount,
    "claimedAfter": _amount,
    "budget": _amount,
    "balance": _amount,
    "allowance": _amount,
    "needed": _amount,
    # SafeCastOverflowedUintDowncast: the Marketplace's one SafeCast narrows a refund amount
    "value": _amount,
    # phases and times
    "phase": phase_words,
    "opensAfter": utc_time,
    "deadline": utc_time,
    "claimDeadline": utc_time,
    # plain counters and ids
    "taskId": _plain,
    "round": _plain,
    "numSamples": _plain,
    "maxSamples": _plain,
    "bits": _plain,
    "code": _plain,
}

#: Shown by ABI type when the name is not in :data:`ARGUMENT_FORMATS`.
TYPE_FORMATS: dict[str, Callable[[Any], str]] = {
    "address": _address,
    "bytes32": _short_hex,
    "string": _plain,
}

_SHOW_TASK = "see `fedmarket task show {taskId}`"
_FUND = "fund the account; on the devnet: `fedmarket account fund NAME`"
_CLAIM = "`fedmarket claim --task {taskId}` claims exactly what the ledger owes, round by round"
_CONTINUE_CHALLENGE = "`fedmarket challenge --task {taskId} --round {round}` with the same key"

#: Every custom error of the Marketplace and RewardToken ABIs (OpenZeppelin's included), plus the
#: decoder's own names for `Error(string)`, `Panic(uint256)` and reverts without data.
REVERTS: dict[str, RevertText] = {
    # -- Marketplace: parameters and identity
    "MarketplaceInvalidParameter": RevertText(
        "the task parameter {name} is out of range: zero, too large, a window shorter than "
        "the marketplace's minimum, or an account that already holds another role",
        "check the values given to `fedmarket task create` (see its --help); the requester, "
        "the aggregator and the arbiter must be three different accounts",
    ),
    "MarketplaceUnknownTask": RevertText(
        "task {taskId} does not exist on this marketplace", "see `fedmarket task list --all`"
    ),
    "MarketplaceWrongPhase": RevertText(
        "task {taskId} is {phase} (round {round}), so {function} is not possible now", _SHOW_TASK
    ),
    "MarketplaceTooEarly": RevertText(
        "round {round} of task {taskId}: too early for {function}, possible after {opensAfter}",
        "wait until then and run the command again",
    ),
    "MarketplaceTooLate": RevertText(
        "round {round} of task {taskId}: too late for {function}, the window closed at {deadline}",
        _SHOW_TASK,
    ),
    "MarketplaceNotRequester": RevertText(
        "{account} is not the requester of task {taskId}",
        "sign with the requester's key: --key",
    ),
    "MarketplaceNotAggregator": RevertText(
        "{account} is not the aggregator of task {taskId}",
        "sign with the aggregator's key: --key",
    ),
    "MarketplaceNotArbiter": RevertText(
        "{account} is not the arbiter of task {taskId}; only its arbiter rules on challenges",
        "run `fedmarket resolve` with the arbiter's key: --key",
    ),
    "MarketplaceRoleConflict": RevertText(
        "{account} is the aggregator or the arbiter of task {taskId}, so it can neither join "
        "nor challenge that task",
        "use another account: --key",
    ),
    # -- joining and staking
    "MarketplaceStakeTooLow": RevertText(
        "stake {stake} is below task {taskId}'s minimum of {minStake}",
        "stake at least {minStake} with --stake",
    ),
    "MarketplaceStakeTooHigh": RevertText(
        "stake {stake} is above the most task {taskId} can hold ({maxStake})",
        "stake less with --stake",
    ),
    "MarketplaceAlreadyJoined": RevertText(
        "{account} has already joined task {taskId}",
        "run `fedmarket join` again with the same key to continue taking part",
    ),
    "MarketplaceNotParticipant": RevertText(
        "{account} has not joined task {taskId}", "check --key and --task"
    ),
    # -- rounds
    "MarketplaceModelMismatch": RevertText(
        "round {round} of task {taskId} must open on model {expected}, not {given}",
        "restart `fedmarket coordinate`; it reads the right model from the chain",
    ),
    "MarketplaceZeroCommitment": RevertText(
        "an empty commitment for round {round} of task {taskId} was refused",
        "report this as a bug: fedmarket never sends one",
    ),
    "MarketplaceAlreadyCommitted": RevertText(
        "{account} has already committed in round {round} of task {taskId}",
        "nothing to do: the node reveals it in the reveal window",
    ),
    "MarketplaceNotCommitted": RevertText(
        "{account} did not commit in round {round} of task {taskId}",
        "a participant reveals only what it committed in the commit window",
    ),
    "MarketplaceAlreadyRevealed": RevertText(
        "{account} has already revealed in round {round} of task {taskId}", "nothing to do"
    ),
    "MarketplaceCommitmentMismatch": RevertText(
        "the reveal of {account} in round {round} of task {taskId} does not match its commitment",
        "the update or salt changed since the commit; the round is lost for this account",
    ),
    "MarketplaceInvalidSamples": RevertText(
        "{numSamples} samples is outside 1..{maxSamples} for task {taskId}",
        "report this as a bug: the node caps its sample count at the task's maximum",
    ),
    "MarketplaceOverBudget": RevertText(
        "round {round} of task {taskId} would pay {totalPaid}, more than its budget of {budget}",
        "report this as a bug in the aggregator",
    ),
    "MarketplaceUnknownRound": RevertText(
        "round {round} of task {taskId} was never opened", _SHOW_TASK
    ),
    "MarketplaceAlreadySlashed": RevertText(
        "{participant} was already slashed for round {round} of task {taskId}", "nothing to do"
    ),
    "MarketplaceNothingToSlash": RevertText(
        "slashing {participant} for round {round} of task {taskId} would take nothing",
        "nothing to do",
    ),
    # -- disputes
    "MarketplaceAlreadyChallenged": RevertText(
        "{account} has already challenged round {round} of task {taskId}",
        "to go on with that challenge (reveal the evidence, then collect), run "
        + _CONTINUE_CHALLENGE,
    ),
    "MarketplaceNotChallenger": RevertText(
        "{account} has no challenge of round {round} of task {taskId} waiting for its evidence",
        "check --key, --task and --round: evidence is revealed once, by the account that "
        "challenged",
    ),
    "MarketplaceEvidenceMismatch": RevertText(
        "the evidence revealed by {account} for round {round} of task {taskId} does not "
        "match the commitment it challenged with",
        "run " + _CONTINUE_CHALLENGE + " and the same --validation as when it was filed; "
        "the evidence is recomputed from the round",
    ),
    "MarketplaceNoEvidence": RevertText(
        "no challenger revealed evidence for round {round} of task {taskId}, so there is "
        "nothing to rule on and the settlement stands",
        "nothing to do; `fedmarket task finalize {taskId}` makes it final",
    ),
    "MarketplaceRoundNotFinal": RevertText(
        "round {round} of task {taskId} is not final yet",
        "it is final after its challenge window, or after the ruling on a challenge; " + _SHOW_TASK,
    ),
    "MarketplaceNothingToCollect": RevertText(
        "{account} has nothing to collect from the challenges of round {round} of task {taskId}",
        "only a revealed challenge that was upheld, or met a silent arbiter, pays out (once); "
        "a rejected or unrevealed one lost its bond",
    ),
    # -- money out
    "MarketplaceStakeAlreadyWithdrawn": RevertText(
        "{participant} has already taken its stake out of task {taskId}", "nothing to do"
    ),
    "MarketplaceInvalidProof": RevertText(
        "the claim of {amount} by {account} for round {round} of task {taskId} is not in that "
        "round's payouts",
        _CLAIM,
    ),
    "MarketplaceNothingToClaim": RevertText(
        "the claim by {account} for round {round} of task {taskId} asks for nothing",
        "leave out rounds that paid the account nothing; " + _CLAIM,
    ),
    "MarketplaceNotRevealer": RevertText(
        "{account} did not reveal an update in round {round} of task {taskId}, so it earned "
        "nothing in that round",
        "claim only rounds the account took part in; " + _CLAIM,
    ),
    "MarketplaceAlreadyClaimed": RevertText(
        "{account} has already claimed round {round} of task {taskId}",
        "nothing to do; `fedmarket claim --task {taskId}` leaves claimed rounds out",
    ),
    "MarketplaceClaimExceedsRoundTotal": RevertText(
        "claims on round {round} of task {taskId} would reach {claimedAfter}, more than the "
        "{totalPaid} the round pays",
        "report this as a bug: the round's payout tree and its total disagree",
    ),
    "MarketplaceClaimsClosed": RevertText(
        "claims on task {taskId} closed at {claimDeadline}",
        "nothing to do: payouts left unclaimed go back to the requester",
    ),
    "MarketplaceValidationNotPublished": RevertText(
        "task {taskId} ran rounds, so its validation set must be published before the refund",
        "run `fedmarket task publish-validation {taskId} --validation FILE`, then the refund again",
    ),
    "MarketplaceNothingToRefund": RevertText(
        "nothing is left to refund from task {taskId}",
        "every token was paid out or already refunded; unclaimed payouts come back after the "
        "claim deadline",
    ),
    "MarketplaceNoCredit": RevertText(
        "{account} has no bonds credited to withdraw", "nothing to do"
    ),
    "ReentrancyGuardReentrantCall": RevertText(
        "the marketplace refused a re-entrant call", "report this as a bug"
    ),
    "SafeCastOverflowedUintDowncast": RevertText(
        "{function} would overflow the contract's accounting ({value} does not fit in {bits} bits)",
        "report this as a bug",
    ),
    "SafeERC20FailedOperation": RevertText(
        "a transfer of token {token} failed", "check the account's balance and approval"
    ),
    # -- RewardToken (OpenZeppelin ERC-20 and Ownable)
    "ERC20InsufficientBalance": RevertText(
        "{sender} holds {balance} but this needs {needed}", _FUND
    ),
    "ERC20InsufficientAllowance": RevertText(
        "the marketplace may move {allowance} of this account's tokens but needs {needed}",
        "run the command again: it approves the exact amount first",
    ),
    "ERC20InvalidApprover": RevertText("{approver} cannot approve transfers", None),
    "ERC20InvalidReceiver": RevertText("{receiver} cannot receive tokens", "check the address"),
    "ERC20InvalidSender": RevertText("{sender} cannot send tokens", "check the address"),
    "ERC20InvalidSpender": RevertText("{spender} cannot be approved to spend", None),
    "OwnableInvalidOwner": RevertText("{owner} cannot own the token", None),
    "OwnableUnauthorizedAccount": RevertText(
        "{account} is not the token's owner and cannot mint",
        "on the devnet, `fedmarket account fund NAME` mints from the faucet",
    ),
    # -- reverts that are not custom errors (names given by the decoder)
    "Error": RevertText("{function} failed: {message}", None),
    "Panic": RevertText(
        "{function} hit an internal error of the contract (panic {code})", "report this as a bug"
    ),
    "Reverted": RevertText("{function} was refused by the contract without a reason", None),
}

_NO_RULING = RevertText(
    "round {round} of task {taskId} has no challenge waiting for a ruling (the task is {phase})",
    _SHOW_TASK,
)
_RULING_TOO_EARLY = RevertText(
    "challengers may reveal evidence for round {round} of task {taskId} until {opensAfter}; "
    "the ruling comes after that",
    "run `fedmarket resolve` again after then",
)
_RULING_TOO_LATE = RevertText(
    "the ruling window of round {round} of task {taskId} closed at {deadline}: the settlement "
    "stands and the revealed challengers get their bonds back",
    "nothing to do; `fedmarket task finalize {taskId}` makes it final",
)

#: Sharper wording where an error means something particular for one function (keyed by the
#: contract function's name, which a test checks against the ABI).
REVERTS_BY_CALL: dict[tuple[str, str], RevertText] = {
    ("MarketplaceWrongPhase", "cancel"): RevertText(
        "task {taskId} cannot be cancelled: it is {phase} (round {round}), and only a task "
        "whose first round has not opened can be",
        "once it ends, `fedmarket task refund {taskId}` returns what was not paid out",
    ),
    ("MarketplaceWrongPhase", "refund"): RevertText(
        "task {taskId} is {phase} (round {round}); its budget is refunded once it has ended",
        "wait for the last round, or `fedmarket task wind-down {taskId}` if its aggregator "
        "missed a deadline",
    ),
    ("MarketplaceWrongPhase", "withdrawStake"): RevertText(
        "task {taskId} is {phase} (round {round}); stakes come back once it has ended",
        "then `fedmarket withdraw --task {taskId}` (a running `fedmarket join` does it by itself)",
    ),
    ("MarketplaceWrongPhase", "join"): RevertText(
        "task {taskId} is {phase} and takes no more participants", "see `fedmarket task list`"
    ),
    ("MarketplaceWrongPhase", "finalize"): RevertText(
        "task {taskId} has no settlement due to become final (it is {phase}, round {round})",
        "a settlement is final after its challenge window, or after the ruling on a "
        "challenge; " + _SHOW_TASK,
    ),
    ("MarketplaceWrongPhase", "windDown"): RevertText(
        "task {taskId} is {phase} (round {round}); wind-down is only for a task whose "
        "aggregator missed its deadline to settle or to open the next round",
        _SHOW_TASK,
    ),
    ("MarketplaceTooEarly", "windDown"): RevertText(
        "the aggregator of task {taskId} may still settle or open the next round until "
        "{opensAfter}",
        "wind the task down after that if it is still stuck",
    ),
    ("MarketplaceRoleConflict", "join"): RevertText(
        "{account} is the aggregator or the arbiter of task {taskId} and cannot also take part "
        "in it",
        "join with another account: --key",
    ),
    ("MarketplaceRoleConflict", "challenge"): RevertText(
        "{account} is the aggregator or the arbiter of task {taskId} and cannot challenge its "
        "settlements",
        "challenge from another account: --key",
    ),
    ("MarketplaceWrongPhase", "challenge"): RevertText(
        "round {round} of task {taskId} has no settlement open to challenge (the task is {phase})",
        "a round can be challenged only once it is settled, until its challenge deadline; "
        + _SHOW_TASK,
    ),
    ("MarketplaceTooLate", "challenge"): RevertText(
        "the challenge window of round {round} of task {taskId} closed at {deadline}",
        "a settlement is final once its window has passed",
    ),
    ("MarketplaceWrongPhase", "revealEvidence"): RevertText(
        "round {round} of task {taskId} has no challenge taking evidence (the task is {phase})",
        _SHOW_TASK,
    ),
    ("MarketplaceTooEarly", "revealEvidence"): RevertText(
        "evidence for round {round} of task {taskId} is revealed after its challenge window "
        "closes at {opensAfter}",
        "run " + _CONTINUE_CHALLENGE + " after then (without --no-wait it waits by itself)",
    ),
    ("MarketplaceTooLate", "revealEvidence"): RevertText(
        "the evidence window of round {round} of task {taskId} closed at {deadline}; a "
        "challenge without revealed evidence loses its bond to the aggregator",
        "nothing more can be done for this challenge",
    ),
    ("MarketplaceWrongPhase", "reject"): _NO_RULING,
    ("MarketplaceWrongPhase", "uphold"): _NO_RULING,
    ("MarketplaceTooEarly", "reject"): _RULING_TOO_EARLY,
    ("MarketplaceTooEarly", "uphold"): _RULING_TOO_EARLY,
    ("MarketplaceTooLate", "reject"): _RULING_TOO_LATE,
    ("MarketplaceTooLate", "uphold"): _RULING_TOO_LATE,
    ("MarketplaceOverBudget", "uphold"): RevertText(
        "the corrected settlement of round {round} of task {taskId} would pay {totalPaid}, "
        "more than its budget of {budget}",
        "report this as a bug in `fedmarket resolve`",
    ),
    ("MarketplaceRoundNotFinal", "claim"): RevertText(
        "round {round} of task {taskId} is not final yet, so it cannot be claimed",
        "claim it after its challenge window (and any ruling); " + _CLAIM,
    ),
    ("MarketplaceRoundNotFinal", "collectChallenge"): RevertText(
        "the challenges of round {round} of task {taskId} are not decided yet",
        "collect after the arbiter's ruling or its deadline: `fedmarket challenge collect "
        "--task {taskId} --round {round}`",
    ),
    ("MarketplaceNotCommitted", "slash"): RevertText(
        "{account} did not commit in round {round} of task {taskId}, so there is nothing to slash",
        "nothing to do",
    ),
    ("MarketplaceAlreadyRevealed", "slash"): RevertText(
        "{account} revealed in round {round} of task {taskId}, so it cannot be slashed for it",
        "nothing to do",
    ),
    ("MarketplaceStakeAlreadyWithdrawn", "slash"): RevertText(
        "{participant} has already withdrawn from task {taskId}; its missed reveals were "
        "slashed then",
        "nothing to do",
    ),
}

#: Wording for one value of one integer argument, where that value means something else.
REVERTS_BY_VALUE: dict[tuple[str, str, int], RevertText] = {
    # claim(taskId, []) reverts with round 0: no round was named at all
    ("MarketplaceNothingToClaim", "round", 0): RevertText(
        "the claim by {account} on task {taskId} named no round", _CLAIM
    ),
}


def _text_for(
    name: str, arguments: Mapping[str, tuple[str, Any]], function: str
) -> RevertText | None:
    """The most particular entry: by call, then by argument value, then the error's own."""
    if (name, function) in REVERTS_BY_CALL:
        return REVERTS_BY_CALL[(name, function)]
    for argument, (_, value) in arguments.items():
        if isinstance(value, int) and (name, argument, value) in REVERTS_BY_VALUE:
            return REVERTS_BY_VALUE[(name, argument, value)]
    return REVERTS.get(name)


def format_argument(name: str, abi_type: str, value: Any) -> str:
    """One argument for a sentence: by its name first, then by its ABI type."""
    formatter = ARGUMENT_FORMATS.get(name) or TYPE_FORMATS.get(abi_type.split("[")[0])
    if formatter is None:
        return _plain(value)
    try:
        return formatter(value)
    except (TypeError, ValueError):
        return _plain(value)


def explain(
    name: str, arguments: Mapping[str, tuple[str, Any]], function: str = ""
) -> tuple[str, str | None] | None:
    """The sentence and hint for a named revert; ``arguments`` maps ABI name -> (type, value).

    None when the table has no entry (the caller falls back to the raw form).
    """
    text = _text_for(name, arguments, function)
    if text is None:
        return None
    fields = {k: format_argument(k, t, v) for k, (t, v) in arguments.items()}
    fields["function"] = function or "this call"
    fields = {k: " ".join(v.split()) for k, v in fields.items()}  # always one line
    try:
        says = text.says.format(**fields)
        todo = text.todo.format(**fields) if text.todo else None
    except (KeyError, IndexError):
        return None
    return says, todo
