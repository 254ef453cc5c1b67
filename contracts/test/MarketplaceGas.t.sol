// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Marketplace} from "../src/Marketplace.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice Gas ceilings of the hot paths, as a whole transaction would pay them: execution gas
/// measured here (with storage made cold first, as in a new transaction) + 21,000 intrinsic +
/// calldata (EIP-2028 prices). Deterministic, not timed; bench/gas.py measures the same on Anvil.
/// Targets: commit + reveal <= 120k per participant, settle <= 150k whatever the number of
/// participants, claim covering any number of rounds <= 100k.
contract MarketplaceGasTest is MarketplaceFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
    }

    /// @dev Calls `market` as `sender` with `data` and returns the transaction's gas.
    function txGas(address sender, bytes memory data) internal returns (uint256) {
        uint256 calldataGas = 0;
        for (uint256 i = 0; i < data.length; i++) {
            calldataGas += data[i] == 0 ? 4 : 16;
        }
        // As in a fresh transaction: every account and storage slot starts cold.
        vm.cool(address(market));
        vm.cool(address(token));
        vm.prank(sender);
        uint256 start = gasleft();
        (bool ok,) = address(market).call(data);
        uint256 used = start - gasleft();
        require(ok, "call reverted");
        return used + 21_000 + calldataGas;
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
        vm.assertLe(commitRevealGas(1, alice), 120_000, "commit + reveal");
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
        vm.assertLe(txGas(aggregator, data), 150_000, "settle");
    }

    function testClaimGasCoversManyRounds() public {
        bytes32 root;
        for (uint32 r = 1; r <= 3; r++) {
            root = rootOf(pair(alice, bob), amounts(100 ether * r, 50 ether * r));
            runRound(taskId, r, pair(alice, bob), root, 150 ether);
            afterChallengeWindow(taskId, r);
        }
        market.finalize(taskId);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(300 ether, 150 ether), alice);
        bytes memory data = abi.encodeCall(Marketplace.claim, (taskId, 300 ether, proof));
        vm.assertLe(txGas(alice, data), 100_000, "claim");
    }

    /// @dev The first claim after an unfinalized challenge window also finalizes the settlement
    /// and credits the aggregator's bond back (fresh storage slots the first time). Measured
    /// here without gas refunds; as an isolated transaction (`forge test --isolate`) it is ~136k.
    /// Coordinators avoid it by calling `finalize` (or `openRound`) first.
    function testClaimGasWhenItFinalizesLazily() public {
        bytes32 root = rootOf(pair(alice, bob), amounts(100 ether, 50 ether));
        runRound(taskId, 1, pair(alice, bob), root, 150 ether);
        afterChallengeWindow(taskId, 1);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(100 ether, 50 ether), alice);
        bytes memory data = abi.encodeCall(Marketplace.claim, (taskId, 100 ether, proof));
        vm.assertLe(txGas(alice, data), 165_000, "claim + lazy finalization");
    }
}
