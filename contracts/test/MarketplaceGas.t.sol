// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Marketplace} from "../src/Marketplace.sol";
import {RoundClaim, TaskParams} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice Gas ceilings of the hot paths, as a whole transaction pays them: measured directly
/// under `forge test --isolate` (each call its own transaction), else estimated as execution
/// gas (storage made cold first, as in a new transaction) + 21,000 intrinsic + calldata
/// (EIP-2028 prices). Deterministic, not timed; bench/gas.py measures the same on Anvil.
/// Targets: commit + reveal <= 120k per participant, settle <= 150k whatever the number of
/// payees, a claim of one round <= 100k and each further round in the same claim <= 40k.
/// `forge test --isolate --match-contract Gas -vv` prints the figures (logged as `gas`).
contract MarketplaceGasTest is MarketplaceFixture {
    uint256 internal constant PAYEES = 64; // payout trees of 64 leaves: proofs of 6 hashes
    uint32 internal constant ROUNDS = 6;

    uint256 internal taskId;
    address[] internal payees;
    uint256[] internal values;

    event log_named_uint(string key, uint256 val);

    function setUp() public override {
        super.setUp();
        TaskParams memory p = defaultParams();
        p.rounds = ROUNDS;
        taskId = createTask(p);
        join(taskId, alice);
        join(taskId, bob);
        payees = new address[](PAYEES);
        values = new uint256[](PAYEES);
        payees[0] = alice;
        payees[1] = bob;
        for (uint256 i = 2; i < PAYEES; i++) {
            payees[i] = makeAddr(string.concat("payee", vm.toString(i)));
        }
        for (uint256 i = 0; i < PAYEES; i++) {
            values[i] = 1 ether + i;
        }
    }

    /// @dev Whether calls from this test run as their own transactions (`forge test
    /// --isolate`): a trivial state-changing call then costs more than the 21,000 intrinsic
    /// gas (view calls are not isolated).
    function isolated() internal returns (bool) {
        uint256 start = gasleft();
        token.approve(address(this), 0);
        return start - gasleft() > 21_000;
    }

    /// @dev Calls `market` as `sender` with `data` and returns the transaction's gas: measured
    /// as is under --isolate, else execution gas + 21,000 intrinsic + calldata (EIP-2028).
    function txGas(address sender, bytes memory data) internal returns (uint256) {
        uint256 calldataGas = 0;
        for (uint256 i = 0; i < data.length; i++) {
            calldataGas += data[i] == 0 ? 4 : 16;
        }
        bool wholeTransaction = isolated();
        // As in a fresh transaction: every account and storage slot starts cold.
        vm.cool(address(market));
        vm.cool(address(token));
        vm.prank(sender);
        uint256 start = gasleft();
        (bool ok,) = address(market).call(data);
        uint256 used = start - gasleft();
        require(ok, "call reverted");
        return wholeTransaction ? used : used + 21_000 + calldataGas;
    }

    function commitRevealGas(uint32 round, address who) internal returns (uint256 total) {
        bytes32 c = commitmentOf(taskId, round, who);
        total = txGas(who, abi.encodeCall(Marketplace.commit, (taskId, c)));
        toRevealWindow(taskId, round);
        string memory cid = updateCid(who, round);
        bytes32 salt = keccak256(abi.encode("salt", who, round));
        total += txGas(
            who, abi.encodeCall(Marketplace.reveal, (taskId, cid, sha256(bytes(cid)), 100, salt))
        );
    }

    function testCommitRevealGas() public {
        openRound(taskId, 1);
        uint256 gas = commitRevealGas(1, alice);
        emit log_named_uint("commit + reveal", gas);
        vm.assertLe(gas, 120_000, "commit + reveal");
    }

    function testSettleGasDoesNotDependOnParticipants() public {
        for (uint256 i = 0; i < 20; i++) {
            address p = makeAddr(string.concat("p", vm.toString(i)));
            fund(p, MIN_STAKE);
            join(taskId, p);
        }
        openRound(taskId, 1);
        toSettleWindow(taskId, 1);
        bytes memory data = abi.encodeCall(
            Marketplace.settle,
            (
                taskId,
                "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
                keccak256("root"),
                900 ether
            )
        );
        uint256 gas = txGas(aggregator, data);
        emit log_named_uint("settle", gas);
        vm.assertLe(gas, 150_000, "settle");
    }

    /// @dev Final rounds 1..ROUNDS in which alice and bob revealed, each paying 64 payees.
    function finalRounds() internal {
        for (uint32 r = 1; r <= ROUNDS; r++) {
            runRound(taskId, r, pair(alice, bob), rootOf(taskId, r, payees, values), 100 ether);
            afterChallengeWindow(taskId, r);
            market.finalize(taskId);
        }
    }

    function claims(address who, uint32 count) internal view returns (RoundClaim[] memory list) {
        list = new RoundClaim[](count);
        for (uint32 i = 0; i < count; i++) {
            list[i] = roundClaim(taskId, i + 1, who, payees, values);
        }
    }

    function testClaimGas() public {
        finalRounds();
        uint256 one = txGas(alice, abi.encodeCall(Marketplace.claim, (taskId, claims(alice, 1))));
        uint256 all = txGas(bob, abi.encodeCall(Marketplace.claim, (taskId, claims(bob, ROUNDS))));
        uint256 further = (all - one) / (ROUNDS - 1);
        emit log_named_uint("claim, one round", one);
        emit log_named_uint("claim, six rounds", all);
        emit log_named_uint("claim, each further round", further);
        vm.assertLe(one, 100_000, "claim of one round");
        vm.assertLe(further, 40_000, "each further round");
    }

    /// @dev The first claim after an unfinalized challenge window also finalizes the
    /// settlement. Coordinators avoid it by calling `finalize` (or `openRound`) first.
    function testClaimGasWhenItFinalizesLazily() public {
        runRound(taskId, 1, pair(alice, bob), rootOf(taskId, 1, payees, values), 100 ether);
        afterChallengeWindow(taskId, 1);
        uint256 gas = txGas(alice, abi.encodeCall(Marketplace.claim, (taskId, claims(alice, 1))));
        emit log_named_uint("claim + lazy finalization", gas);
        vm.assertLe(gas, 130_000, "claim + lazy finalization");
    }

    function testOpenRoundAndChallengeGas() public {
        uint256 open = txGas(aggregator, abi.encodeCall(Marketplace.openRound, (taskId, MODEL0)));
        emit log_named_uint("openRound 1 (posts the bond)", open);
        toSettleWindow(taskId, 1);
        settle(taskId, 1, bytes32(0), 0);
        bytes32 c = market.evidenceCommitmentFor(taskId, 1, "e", carol, 0);
        uint256 challenge = txGas(carol, abi.encodeCall(Marketplace.challenge, (taskId, 1, c)));
        emit log_named_uint("challenge", challenge);
        toEvidenceWindow(taskId, 1);
        uint256 evidence =
            txGas(carol, abi.encodeCall(Marketplace.revealEvidence, (taskId, 1, "e", 0)));
        emit log_named_uint("revealEvidence", evidence);
        vm.assertLe(open + challenge + evidence, 400_000, "sanity");
    }
}
