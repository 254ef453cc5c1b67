// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskParams} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice challenge, resolve, finalize, slash and withdrawCredit.
contract MarketplaceSettlementTest is MarketplaceFixture {
    uint256 internal taskId;
    bytes32 internal root;

    function setUp() public override {
        super.setUp();
        taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
        root = rootOf(pair(alice, bob), amounts(100 ether, 50 ether));
        runRound(taskId, 1, pair(alice, bob), root, 150 ether);
    }

    function testChallenge() public {
        uint256 before = token.balanceOf(carol);
        vm.expectEmit();
        emit SettlementChallenged(taskId, 1, carol, "bafkreievidence");
        vm.prank(carol);
        market.challenge(taskId, 1, "bafkreievidence");

        vm.assertEq(market.getRound(taskId, 1).status, 3, "challenged");
        vm.assertEq(market.getRound(taskId, 1).challenger, carol, "challenger");
        vm.assertEq(before - token.balanceOf(carol), BOND, "bond pulled");
        vm.assertEq(market.phase(taskId), PHASE_CHALLENGE, "phase");
    }

    function testChallengeReverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceAggregatorCannotChallenge.selector, taskId, aggregator
            )
        );
        vm.prank(aggregator);
        market.challenge(taskId, 1, "e");

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 2, PHASE_CHALLENGE)
        );
        vm.prank(carol);
        market.challenge(taskId, 2, "e");

        vm.prank(carol);
        market.challenge(taskId, 1, "e");
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_CHALLENGE)
        );
        vm.prank(outsider);
        market.challenge(taskId, 1, "e");
    }

    function testChallengeRevertsAfterWindow() public {
        uint64 deadline = market.getRound(taskId, 1).challengeDeadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, deadline));
        vm.prank(carol);
        market.challenge(taskId, 1, "e");
    }

    function testChallengeRevertsWithoutBond() public {
        address broke = makeAddr("broke");
        vm.prank(broke);
        token.approve(address(market), type(uint256).max);
        vm.expectRevert();
        vm.prank(broke);
        market.challenge(taskId, 1, "e");
    }

    function testChallengedSettlementPaysNothing() public {
        vm.prank(carol);
        market.challenge(taskId, 1, "e");
        afterChallengeWindow(taskId, 1);
        bytes32[] memory proof = proofOf(pair(alice, bob), amounts(100 ether, 50 ether), alice);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceNoFinalSettlement.selector, taskId));
        vm.prank(alice);
        market.claim(taskId, 100 ether, proof);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_CHALLENGE)
        );
        market.finalize(taskId);
    }

    function testResolveUpheld() public {
        vm.prank(carol);
        market.challenge(taskId, 1, "e");

        vm.expectEmit();
        emit ChallengeResolved(taskId, 1, true, arbiter);
        vm.expectEmit();
        emit CreditAdded(carol, 2 * uint256(BOND), taskId, 1);
        vm.prank(arbiter);
        market.resolve(taskId, 1, true);

        vm.assertEq(market.getRound(taskId, 1).status, 5, "voided");
        vm.assertEq(market.credits(carol), 2 * uint256(BOND), "challenger wins both bonds");
        vm.assertEq(market.credits(aggregator), 0, "aggregator loses its bond");
        vm.assertEq(market.getTask(taskId).totalAllocated, 0, "nothing allocated");
        vm.assertEq(market.phase(taskId), PHASE_FINAL, "next round can open");
    }

    function testResolveRejected() public {
        vm.prank(carol);
        market.challenge(taskId, 1, "e");

        vm.expectEmit();
        emit ChallengeResolved(taskId, 1, false, arbiter);
        vm.expectEmit();
        emit SettlementFinalized(taskId, 1, root, 150 ether);
        vm.prank(arbiter);
        market.resolve(taskId, 1, false);

        vm.assertEq(market.getRound(taskId, 1).status, 4, "final");
        vm.assertEq(market.credits(aggregator), 2 * uint256(BOND), "aggregator wins both bonds");
        vm.assertEq(market.getTask(taskId).totalAllocated, 150 ether, "allocated");
        vm.assertEq(market.getTask(taskId).finalPayoutRoot, root, "claimable root");
    }

    function testResolveByRequesterWithoutArbiter() public {
        TaskParams memory p = defaultParams();
        p.arbiter = address(0);
        uint256 other = createTask(p);
        join(other, alice);
        runRound(other, 1, single(alice), bytes32(0), 0);
        vm.prank(carol);
        market.challenge(other, 1, "e");

        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotResolver.selector, other, arbiter));
        vm.prank(arbiter);
        market.resolve(other, 1, true);

        vm.prank(requester);
        market.resolve(other, 1, true);
        vm.assertEq(market.getRound(other, 1).status, 5, "voided");
    }

    function testResolveReverts() public {
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotResolver.selector, taskId, requester));
        vm.prank(requester);
        market.resolve(taskId, 1, true);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_CHALLENGE)
        );
        vm.prank(arbiter);
        market.resolve(taskId, 1, true);

        vm.prank(carol);
        market.challenge(taskId, 1, "e");
        vm.prank(arbiter);
        market.resolve(taskId, 1, false);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_FINAL)
        );
        vm.prank(arbiter);
        market.resolve(taskId, 1, true);
    }

    function testUpheldLastRoundEndsTask() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        uint256 oneRound = createTask(p);
        join(oneRound, alice);
        runRound(oneRound, 1, single(alice), bytes32(0), 10 ether);
        vm.prank(carol);
        market.challenge(oneRound, 1, "e");

        vm.expectEmit();
        emit TaskEnded(oneRound, 0);
        vm.prank(arbiter);
        market.resolve(oneRound, 1, true);

        vm.assertEq(market.phase(oneRound), PHASE_ENDED, "ended");
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(oneRound);
        vm.assertEq(token.balanceOf(requester) - before, BUDGET, "whole budget back");
    }

    function testFinalize() public {
        afterChallengeWindow(taskId, 1);
        vm.expectEmit();
        emit SettlementFinalized(taskId, 1, root, 150 ether);
        vm.expectEmit();
        emit CreditAdded(aggregator, BOND, taskId, 1);
        vm.prank(outsider);
        market.finalize(taskId);

        vm.assertEq(market.getRound(taskId, 1).status, 4, "final");
        vm.assertEq(market.credits(aggregator), BOND, "bond back");
        vm.assertEq(market.getTask(taskId).lastFinalRound, 1, "last final");
        vm.assertEq(market.getTask(taskId).modelCidHash, keccak256(bytes(modelCid(1))), "model");
    }

    function testFinalizeReverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_CHALLENGE)
        );
        market.finalize(taskId);

        afterChallengeWindow(taskId, 1);
        market.finalize(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_FINAL)
        );
        market.finalize(taskId);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceUnknownTask.selector, 77));
        market.finalize(77);
    }

    function testFinalizeLastRoundEndsTask() public {
        for (uint32 r = 1; r < 3; r++) {
            afterChallengeWindow(taskId, r);
            runRound(taskId, r + 1, pair(alice, bob), root, 0);
        }
        afterChallengeWindow(taskId, 3);
        vm.expectEmit();
        emit TaskEnded(taskId, 0);
        market.finalize(taskId);
        vm.assertEq(market.phase(taskId), PHASE_ENDED, "ended");
    }

    function testWithdrawCredit() public {
        afterChallengeWindow(taskId, 1);
        market.finalize(taskId);
        uint256 before = token.balanceOf(aggregator);

        vm.expectEmit();
        emit CreditWithdrawn(aggregator, BOND);
        vm.prank(aggregator);
        market.withdrawCredit();

        vm.assertEq(token.balanceOf(aggregator) - before, BOND, "paid");
        vm.assertEq(market.credits(aggregator), 0, "cleared");
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNoCredit.selector, aggregator));
        vm.prank(aggregator);
        market.withdrawCredit();
    }

    function testSlash() public {
        afterChallengeWindow(taskId, 1);
        openRound(taskId, 2);
        commit(taskId, 2, alice);
        commit(taskId, 2, bob);
        toRevealWindow(taskId, 2);
        reveal(taskId, 2, bob);
        toSettleWindow(taskId, 2);

        vm.expectEmit();
        emit ParticipantSlashed(taskId, 2, alice, MIN_STAKE / 10);
        vm.prank(outsider);
        market.slash(taskId, 2, alice);

        (uint256 stake,, uint256 slashed,) = market.participantOf(taskId, alice);
        vm.assertEq(stake, MIN_STAKE - MIN_STAKE / 10, "stake left");
        vm.assertEq(slashed, MIN_STAKE / 10, "slashed");
        vm.assertEq(market.getTask(taskId).totalSlashed, MIN_STAKE / 10, "task total");
        vm.assertTrue(market.isSlashed(taskId, 2, alice), "flag");
    }

    function testSlash(uint16 bps, uint96 stake) public {
        bps = uint16(bound(bps, 1, 10_000));
        stake = uint96(bound(stake, MIN_STAKE, FUNDS));
        TaskParams memory p = defaultParams();
        p.slashBps = bps;
        uint256 other = createTask(p);
        vm.prank(carol);
        market.join(other, stake);
        openRound(other, 1);
        commit(other, 1, carol);
        toSettleWindow(other, 1);
        uint256 expected = uint256(stake) * bps / 10_000;
        vm.assume(expected > 0);

        market.slash(other, 1, carol);

        (uint256 held,, uint256 slashed,) = market.participantOf(other, carol);
        vm.assertEq(slashed, expected, "slashed share");
        vm.assertEq(held + slashed, stake, "stake conserved");
    }

    function testSlashReverts() public {
        afterChallengeWindow(taskId, 1);
        openRound(taskId, 2);
        commit(taskId, 2, alice);
        uint64 revealDeadline = market.getRound(taskId, 2).revealDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 2, revealDeadline)
        );
        market.slash(taskId, 2, alice);

        toSettleWindow(taskId, 2);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceUnknownRound.selector, taskId, 3));
        market.slash(taskId, 3, alice);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotCommitted.selector, taskId, 2, bob));
        market.slash(taskId, 2, bob);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceAlreadyRevealed.selector, taskId, 1, alice)
        );
        market.slash(taskId, 1, alice);

        market.slash(taskId, 2, alice);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceAlreadySlashed.selector, taskId, 2, alice)
        );
        market.slash(taskId, 2, alice);
    }

    function testSlashRevertsAfterWithdrawalOrWithZeroBps() public {
        TaskParams memory p = defaultParams();
        p.slashBps = 0;
        uint256 lenient = createTask(p);
        join(lenient, carol);
        openRound(lenient, 1);
        commit(lenient, 1, carol);
        vm.warp(market.getRound(lenient, 1).settleDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceNothingToSlash.selector, lenient, 1, carol)
        );
        market.slash(lenient, 1, carol);

        market.windDown(lenient);
        vm.prank(carol);
        market.withdrawStake(lenient);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceStakeAlreadyWithdrawn.selector, lenient, carol)
        );
        market.slash(lenient, 1, carol);
    }

    function testSlashAfterRefundIsRefundedToo() public {
        afterChallengeWindow(taskId, 1);
        openRound(taskId, 2);
        commit(taskId, 2, alice);
        vm.warp(market.getRound(taskId, 2).settleDeadline + 1);
        market.windDown(taskId);
        vm.prank(requester);
        market.refund(taskId);
        uint256 before = token.balanceOf(requester);

        market.slash(taskId, 2, alice);
        vm.prank(requester);
        market.refund(taskId);

        vm.assertEq(token.balanceOf(requester) - before, MIN_STAKE / 10, "slashed stake refunded");
    }
}
