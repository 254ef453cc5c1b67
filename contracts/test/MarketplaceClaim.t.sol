// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice claim (cumulative Merkle payouts) and withdrawStake.
contract MarketplaceClaimTest is MarketplaceFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
    }

    /// @dev Runs `round` paying (a, b) cumulative amounts and lets it become final.
    function finalRound(uint32 round, uint256 a, uint256 b, uint256 paidThisRound) internal {
        runRound(
            taskId, round, pair(alice, bob), rootOf(pair(alice, bob), amounts(a, b)), paidThisRound
        );
        afterChallengeWindow(taskId, round);
    }

    function claimAs(address who, uint256 a, uint256 b) internal {
        uint256 amount = who == alice ? a : b;
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(a, b), who);
        vm.prank(who);
        market.claim(taskId, amount, proof);
    }

    function testClaim() public {
        finalRound(1, 300 ether, 200 ether, 500 ether);
        uint256 before = token.balanceOf(alice);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(300 ether, 200 ether), alice);

        vm.expectEmit();
        emit Claimed(taskId, alice, 300 ether, 300 ether);
        vm.prank(alice);
        market.claim(taskId, 300 ether, proof);

        vm.assertEq(token.balanceOf(alice) - before, 300 ether, "paid");
        vm.assertEq(market.claimed(taskId, alice), 300 ether, "recorded");
        vm.assertEq(market.getTask(taskId).totalClaimed, 300 ether, "task total");
        vm.assertEq(market.getRound(taskId, 1).status, 4, "finalized lazily by the claim");
    }

    function testClaim(uint96 a, uint96 b) public {
        uint256 x = bound(a, 1, BUDGET - 1);
        uint256 y = bound(b, 1, BUDGET - x);
        finalRound(1, x, y, x + y);

        claimAs(alice, x, y);
        claimAs(bob, x, y);

        vm.assertEq(market.claimed(taskId, alice), x, "alice");
        vm.assertEq(market.claimed(taskId, bob), y, "bob");
        vm.assertEq(market.getTask(taskId).totalClaimed, x + y, "total");
    }

    function testClaimCoversSeveralRounds() public {
        finalRound(1, 100 ether, 50 ether, 150 ether);
        finalRound(2, 250 ether, 150 ether, 250 ether);
        finalRound(3, 300 ether, 400 ether, 300 ether);
        uint256 before = token.balanceOf(bob);

        claimAs(bob, 300 ether, 400 ether);

        vm.assertEq(token.balanceOf(bob) - before, 400 ether, "three rounds in one claim");
        vm.assertEq(market.phase(taskId), PHASE_ENDED, "ended");
    }

    function testClaimTopsUpAfterLaterRounds() public {
        finalRound(1, 100 ether, 50 ether, 150 ether);
        claimAs(alice, 100 ether, 50 ether);
        finalRound(2, 180 ether, 70 ether, 100 ether);
        uint256 before = token.balanceOf(alice);

        claimAs(alice, 180 ether, 70 ether);

        vm.assertEq(token.balanceOf(alice) - before, 80 ether, "only the difference");
        vm.assertEq(market.claimed(taskId, alice), 180 ether, "cumulative recorded");
    }

    function testClaimTwiceReverts() public {
        finalRound(1, 100 ether, 50 ether, 150 ether);
        claimAs(alice, 100 ether, 50 ether);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(100 ether, 50 ether), alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceNothingToClaim.selector, taskId, alice, 100 ether, 100 ether
            )
        );
        vm.prank(alice);
        market.claim(taskId, 100 ether, proof);
    }

    function testClaimRejectsBadProofs() public {
        finalRound(1, 100 ether, 50 ether, 150 ether);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(100 ether, 50 ether), alice);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, alice, 101 ether)
        );
        vm.prank(alice);
        market.claim(taskId, 101 ether, proof);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, carol, 100 ether)
        );
        vm.prank(carol);
        market.claim(taskId, 100 ether, proof);

        proof[0] = bytes32(uint256(proof[0]) ^ 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, alice, 100 ether)
        );
        vm.prank(alice);
        market.claim(taskId, 100 ether, proof);
    }

    function testClaimBeforeAnyFinalSettlementReverts() public {
        runRound(taskId, 1, pair(alice, bob), rootOf(pair(alice, bob), amounts(1, 1)), 2);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(1, 1), alice);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNoFinalSettlement.selector, taskId));
        vm.prank(alice);
        market.claim(taskId, 1, proof);
    }

    function testClaimCannotExceedAllocation() public {
        // A bad root promising more than the settlement's totalPaid.
        finalRound(1, 400 ether, 400 ether, 500 ether);
        claimAs(alice, 400 ether, 400 ether);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(400 ether, 400 ether), bob);

        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceClaimExceedsAllocation.selector, taskId, 800 ether, 500 ether
            )
        );
        vm.prank(bob);
        market.claim(taskId, 400 ether, proof);
    }

    function testClaimUsesLatestFinalRootOnly() public {
        finalRound(1, 100 ether, 50 ether, 150 ether);
        runRound(taskId, 2, pair(alice, bob), rootOf(pair(alice, bob), amounts(900, 900)), 1800);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(900, 900), alice);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, alice, 900)
        );
        vm.prank(alice);
        market.claim(taskId, 900, proof);

        claimAs(alice, 100 ether, 50 ether);
        vm.assertEq(market.claimed(taskId, alice), 100 ether, "round 1 still claimable");
    }

    function testSingleLeafTree() public {
        uint256[] memory v = new uint256[](1);
        v[0] = 7 ether;
        bytes32 leafRoot = rootOf(single(carol), v);
        join(taskId, carol);
        runRound(taskId, 1, single(carol), leafRoot, 7 ether);
        afterChallengeWindow(taskId, 1);
        // A one-account tree: the root is the leaf and the proof is empty.
        bytes32[] memory proof = proofOf(single(carol), v, carol);
        vm.assertEq(proof.length, 0, "empty proof");
        vm.assertEq(leafRoot, keccak256(bytes.concat(keccak256(abi.encode(carol, v[0])))), "leaf");

        vm.prank(carol);
        market.claim(taskId, 7 ether, proof);
        vm.assertEq(market.claimed(taskId, carol), 7 ether, "claimed");
    }

    function testWithdrawStake() public {
        for (uint32 r = 1; r <= 3; r++) {
            finalRound(r, 0, 0, 0);
        }
        uint256 before = token.balanceOf(alice);

        vm.expectEmit();
        emit StakeWithdrawn(taskId, alice, MIN_STAKE);
        vm.prank(alice);
        market.withdrawStake(taskId);

        vm.assertEq(token.balanceOf(alice) - before, MIN_STAKE, "stake back");
        (uint256 stake,,, bool withdrawn) = market.participantOf(taskId, alice);
        vm.assertEq(stake, 0, "nothing held");
        vm.assertTrue(withdrawn, "withdrawn");
    }

    function testWithdrawStakeAfterCancel() public {
        uint256 other = createDefaultTask();
        join(other, carol);
        vm.prank(requester);
        market.cancel(other);
        uint256 before = token.balanceOf(carol);
        vm.prank(carol);
        market.withdrawStake(other);
        vm.assertEq(token.balanceOf(carol) - before, MIN_STAKE, "stake back");
    }

    function testWithdrawStakeReverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 0, PHASE_CREATED)
        );
        vm.prank(alice);
        market.withdrawStake(taskId);

        vm.prank(requester);
        market.cancel(taskId);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotParticipant.selector, taskId, carol));
        vm.prank(carol);
        market.withdrawStake(taskId);

        vm.prank(alice);
        market.withdrawStake(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceStakeAlreadyWithdrawn.selector, taskId, alice)
        );
        vm.prank(alice);
        market.withdrawStake(taskId);
    }
}
