"""The revert table: every custom error of the contracts' ABIs has a sentence, and it reads well."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from marketplace.chain.contracts import abi, revert_decoder
from marketplace.chain.revert_messages import ARGUMENT_FORMATS, REVERTS, REVERTS_BY_CALL, explain

TOKEN = 10**18
ABI_ERRORS = {
    item["name"]: item["inputs"]
    for name in ("Marketplace", "RewardToken")
    for item in abi(name)
    if item["type"] == "error"
}
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


@pytest.mark.parametrize(
    "key",
    sorted(REVERTS) + [f"{e}@{f}" for e, f in sorted(REVERTS_BY_CALL)],
)
def test_templates_name_only_real_arguments(key: str) -> None:
    name, _, function = key.partition("@")
    text = REVERTS_BY_CALL[(name, function)] if function else REVERTS[name]
    known = {a["name"] for a in ABI_ERRORS.get(name, [])} | {"function"}
    known |= {"Error": {"message"}, "Panic": {"code"}}.get(name, set())
    for template in (text.says, text.todo or ""):
        assert _fields(template) <= known, (key, template)


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
    if any(a["name"] in ("stake", "needed", "totalPaid", "cumulativeAmount") for a in inputs):
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

    generic = explain("MarketplaceWrongPhase", args, "finalize")
    cancel = explain("MarketplaceWrongPhase", args, "cancel")

    assert generic is not None and generic[0] == (
        "task 1 is finished (round 3), so finalize is not possible now"
    )
    assert cancel is not None and cancel[0].startswith("task 1 cannot be cancelled: it is finished")


def test_error_string_and_unknown_selectors_stay_readable() -> None:
    error = revert_decoder().decode(
        function_signature_to_4byte_selector("Error(string)") + encode(["string"], ["boom"]),
        function="join",
    )
    unknown = revert_decoder().decode("0xdeadbeef", function="join")

    assert error.user_message() == "join failed: boom"
    assert unknown.error_name == "UnknownError(0xdeadbeef)"
