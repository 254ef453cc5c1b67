"""The whole-report comparison: exact for everything but floats, floats within their tolerance."""

from __future__ import annotations

from typing import Any

from marketplace.protocol.report_diff import DiffKind, Tolerances, diff, is_address

ALICE = "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65"
ALICE_CHECKSUM = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
BOB = "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc"

TOL = Tolerances((("valuation.utilities.*", 1e-9), ("valuation.values[*]", 1e-8)))


def report(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "task_id": 1,
        "round": 2,
        "accuracy": 0.9,
        "submissions": [
            {"participant": ALICE, "status": "accepted", "reason": "", "num_samples": 10},
            {"participant": BOB, "status": "rejected", "reason": "empty_update", "num_samples": 5},
        ],
        "valuation": {"method": "exact", "seed": 7, "values": [0.25, 0.0],
                      "utilities": {"0": 0.5, "1": 0.75}},
        "round_payouts": {ALICE: 100},
    }  # fmt: skip
    base.update(overrides)
    return base


def test_identical_reports_have_no_difference() -> None:
    assert diff(report(), report(), tolerances=TOL) == []


def test_key_order_and_address_case_are_not_differences() -> None:
    found = report(round_payouts={ALICE_CHECKSUM: 100})
    found["submissions"][0]["participant"] = ALICE_CHECKSUM
    reordered = dict(reversed(list(found.items())))

    assert diff(report(), reordered, tolerances=TOL, keyed={"submissions": "participant"}) == []


def test_float_within_its_tolerance_is_noise_and_beyond_is_a_mismatch() -> None:
    noisy = report()
    noisy["valuation"] = {**noisy["valuation"], "values": [0.25 + 5e-9, 0.0]}
    far = report()
    far["valuation"] = {**far["valuation"], "values": [0.25 + 1e-6, 0.0]}

    (small,) = diff(report(), noisy, tolerances=TOL)
    (large,) = diff(report(), far, tolerances=TOL)

    assert small.kind is DiffKind.NOISE and small.path == "valuation.values[0]"
    assert large.kind is DiffKind.MISMATCH and large.tolerance == 1e-8


def test_a_float_without_a_tolerance_is_exact() -> None:
    (d,) = diff(report(), report(accuracy=0.9 + 1e-15), tolerances=TOL)

    assert d.kind is DiffKind.MISMATCH and d.path == "accuracy"


def test_a_relabelled_rejection_reason_is_named_by_participant() -> None:
    forged = report()
    forged["submissions"] = [dict(s) for s in forged["submissions"]]
    forged["submissions"][1]["reason"] = "hash_mismatch"

    (d,) = diff(report(), forged, tolerances=TOL, keyed={"submissions": "participant"})

    assert d.path == f"submissions[{BOB}].reason"
    assert (d.expected, d.found, d.kind) == ("empty_update", "hash_mismatch", DiffKind.MISMATCH)


def test_a_missing_participant_is_one_finding_not_shifted_indices() -> None:
    censored = report()
    censored["submissions"] = censored["submissions"][1:]

    (d,) = diff(report(), censored, keyed={"submissions": "participant"})

    assert d.path == f"submissions[{ALICE}]" and d.found is None


def test_null_accuracy_and_swapped_strings_and_ints_are_mismatches() -> None:
    found = report(accuracy=None, task_id=2)
    found["valuation"] = {**found["valuation"], "method": "loo", "seed": 8}

    paths = {d.path: d.kind for d in diff(report(), found, tolerances=TOL)}

    assert paths == {
        "accuracy": DiffKind.MISMATCH,
        "task_id": DiffKind.MISMATCH,
        "valuation.method": DiffKind.MISMATCH,
        "valuation.seed": DiffKind.MISMATCH,
    }


def test_extra_and_missing_keys_and_lengths() -> None:
    found = report(extra="x")
    del found["accuracy"]
    found["valuation"] = {**found["valuation"], "values": [0.25]}

    kinds = {d.path for d in diff(report(), found, tolerances=TOL)}

    assert kinds == {"extra", "accuracy", "valuation.values.length"}


def test_booleans_are_not_numbers() -> None:
    (d,) = diff({"final": True}, {"final": 1})

    assert d.kind is DiffKind.MISMATCH


def test_is_address() -> None:
    assert is_address(ALICE) and is_address(ALICE_CHECKSUM)
    assert not is_address("0x1234") and not is_address(42)
