"""The revert table: every custom error of the contracts' ABIs has a sentence, and it reads well."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from marketplace.chain.contracts import abi, revert_decoder
from marketplace.chain.revert_messages import (
    ARGUMENT_FORMATS,
    REVERTS,
    REVERTS_BY_CALL,
    REVERTS_BY_VALUE,
    explain,
)

TOKEN = 10**18
ABI_ERRORS = {
    item["name"]: item["inputs"]
    for name in ("Marketplace", "RewardToken")
    for item in abi(name)
    if item["type"] == "error"
}
ABI_FUNCTIONS = {
    item["name"]
    for name in ("Marketplace", "RewardToken")
    for item in abi(name)
    if item["type"] == "function"
}
#: Names the revert decoder gives reverts that are not custom errors.
DECODER_NAMES = {"Error": ["message"], "Panic": ["code"], "Reverted": []}
SAMPLES: dict[str, Any] = {
    "address": "0x" + "ab" * 20,
    "bytes32": b"\x12" * 32,
    "string": "roundBudget",
    "uint8": 7,
    "uint32": 3,
    "uint64": 1_800_000_000,
    "uint256": 1234 * TOKEN,
}
SAMPLES_BY_NAME: dict[str, Any] = {"taskId": 3}


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("name", sorted(ABI_ERRORS))
def test_every_abi_error_has_an_entry(name: str) -> None:
    assert name in REVERTS, f"add {name} to marketplace/chain/revert_messages.py REVERTS"


@pytest.mark.parametrize("name", sorted(ABI_ERRORS))
def test_every_integer_argument_has_a_format(name: str) -> None:
    for arg in ABI_ERRORS[name]:
        if arg["type"].startswith(("uint", "int")):
            assert arg["name"] in ARGUMENT_FORMATS, (
                f"classify {name}'s argument {arg['name']} in ARGUMENT_FORMATS "
                "(an amount, a time, a phase, or a plain number)"
            )


def test_no_entry_for_an_error_the_abis_no_longer_have() -> None:
    stale = set(REVERTS) - set(ABI_ERRORS) - set(DECODER_NAMES)
    stale |= {e for e, _ in REVERTS_BY_CALL} - set(ABI_ERRORS) - set(DECODER_NAMES)
    stale |= {e for e, _, _ in REVERTS_BY_VALUE} - set(ABI_ERRORS)

    assert not stale, f"remove {sorted(stale)} from marketplace/chain/revert_messages.py"


def test_sharper_wordings_name_real_functions_and_arguments() -> None:
    unknown_calls = {f for _, f in REVERTS_BY_CALL} - ABI_FUNCTIONS
    unknown_arguments = {
        (e, a) for e, a, _ in REVERTS_BY_VALUE if a not in {x["name"] for x in ABI_ERRORS[e]}
    }

    assert not unknown_calls, f"no contract function is named {sorted(unknown_calls)}"
    assert not unknown_arguments


def test_every_argument_format_is_used() -> None:
    used = {a["name"] for inputs in ABI_ERRORS.values() for a in inputs}
    used |= {a for names in DECODER_NAMES.values() for a in names}

    assert not set(ARGUMENT_FORMATS) - used, "no error has these arguments any more"


@pytest.mark.parametrize(
    "key",
    sorted(REVERTS)
    + [f"{e}@{f}" for e, f in sorted(REVERTS_BY_CALL)]
    + [f"{e}#{a}={v}" for e, a, v in sorted(REVERTS_BY_VALUE)],
)
def test_templates_name_only_real_arguments(key: str) -> None:
    if "#" in key:
        name, _, value_key = key.partition("#")
        argument, _, value = value_key.partition("=")
        text = REVERTS_BY_VALUE[(name, argument, int(value))]
    else:
        name, _, function = key.partition("@")
        text = REVERTS_BY_CALL[(name, function)] if function else REVERTS[name]
    known = {a["name"] for a in ABI_ERRORS.get(name, [])} | {"function"}
    known |= set(DECODER_NAMES.get(name, []))
    for template in (text.says, text.todo or ""):
        assert _fields(template) <= known, (key, template)


@pytest.mark.parametrize("key", [f"{e}@{f}" for e, f in sorted(REVERTS_BY_CALL)])
def test_sharper_wordings_format_for_their_call(key: str) -> None:
    name, _, function = key.partition("@")
    arguments = {
        a["name"]: (a["type"], SAMPLES_BY_NAME.get(a["name"], SAMPLES[a["type"]]))
        for a in ABI_ERRORS[name]
    }

    explained = explain(name, arguments, function)

    assert explained is not None and explained[0] != explain(name, arguments)


@pytest.mark.parametrize("name", sorted(ABI_ERRORS))
def test_decoded_reverts_are_one_readable_line(name: str) -> None:
    inputs = ABI_ERRORS[name]
    types = [a["type"] for a in inputs]
    data = function_signature_to_4byte_selector(f"{name}({','.join(types)})") + encode(
        types, [SAMPLES_BY_NAME.get(a["name"], SAMPLES[a["type"]]) for a in inputs]
    )

    revert = revert_decoder().decode(data, function="join")
    text = revert.user_message()

    assert revert.error_name == name
    assert "\n" not in text and "reverted with" not in text
    assert not re.search(r"\b\d{16,}\b", text), text
    amounts = ("stake", "needed", "totalPaid", "amount", "claimedAfter", "value")
    if any(a["name"] in amounts for a in inputs):
        assert "1,234 FMT" in text


def test_stake_too_low_says_what_to_do() -> None:
    message, hint = explain(
        "MarketplaceStakeTooLow",
        {
            "taskId": ("uint256", 3),
            "stake": ("uint256", TOKEN),
            "minStake": ("uint256", 10 * TOKEN),
        },
        "join",
    ) or ("", None)

    assert message == "stake 1 FMT is below task 3's minimum of 10 FMT"
    assert hint == "stake at least 10 FMT with --stake"


def test_wrong_phase_names_the_phase_and_the_call() -> None:
    args = {"taskId": ("uint256", 1), "round": ("uint32", 3), "phase": ("uint8", 7)}

    generic = explain("MarketplaceWrongPhase", args, "openRound")
    cancel = explain("MarketplaceWrongPhase", args, "cancel")

    assert generic is not None and generic[0] == (
        "task 1 is finished (round 3), so openRound is not possible now"
    )
    assert cancel is not None and cancel[0].startswith("task 1 cannot be cancelled: it is finished")


def test_nothing_to_claim_tells_an_empty_claim_from_a_zero_amount() -> None:
    account = "0x" + "ab" * 20

    def args(round_: int) -> dict[str, tuple[str, Any]]:
        return {
            "taskId": ("uint256", 4),
            "round": ("uint32", round_),
            "account": ("address", account),
        }

    empty = explain("MarketplaceNothingToClaim", args(0), "claim")
    zero = explain("MarketplaceNothingToClaim", args(2), "claim")

    assert empty is not None and zero is not None
    assert "named no round" in empty[0] and "round 0" not in empty[0]
    assert "round 2 of task 4 asks for nothing" in zero[0]
    assert "`fedmarket claim --task 4`" in (empty[1] or "")


def test_claim_and_ruling_errors_read_amounts_times_and_commands() -> None:
    proof = explain(
        "MarketplaceInvalidProof",
        {
            "taskId": ("uint256", 2),
            "round": ("uint32", 3),
            "account": ("address", "0x" + "cd" * 20),
            "amount": ("uint256", 25 * TOKEN),
        },
        "claim",
    )
    closed = explain(
        "MarketplaceClaimsClosed",
        {"taskId": ("uint256", 2), "claimDeadline": ("uint64", 1_800_000_000)},
        "claim",
    )
    late = explain(
        "MarketplaceTooLate",
        {"taskId": ("uint256", 2), "round": ("uint32", 3), "deadline": ("uint64", 1_800_000_000)},
        "uphold",
    )

    assert proof is not None and proof[0].startswith("the claim of 25 FMT by 0xCdCD")
    assert "round 3 of task 2" in proof[0]
    assert closed is not None and closed[0] == "claims on task 2 closed at 2027-01-15 08:00:00 UTC"
    assert late is not None and "ruling window of round 3 of task 2 closed at 2027-01-15" in late[0]
    assert "`fedmarket task finalize 2`" in (late[1] or "")


def test_error_string_and_unknown_selectors_stay_readable() -> None:
    error = revert_decoder().decode(
        function_signature_to_4byte_selector("Error(string)") + encode(["string"], ["boom"]),
        function="join",
    )
    unknown = revert_decoder().decode("0xdeadbeef", function="join")

    assert error.user_message() == "join failed: boom"
    assert unknown.error_name == "UnknownError(0xdeadbeef)"
