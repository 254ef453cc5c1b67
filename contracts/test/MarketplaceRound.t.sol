// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RoundInfo, TaskInfo} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice openRound (with the aggregator bond), commit, reveal, settle, windDown and phase.
contract MarketplaceRoundTest is MarketplaceFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
    }

    function testOpenRound() public {
        uint64 t0 = uint64(block.timestamp);
        uint256 before = token.balanceOf(aggregator);
        vm.expectEmit();
        emit RoundOpened(
            taskId,
            1,
            MODEL0,
            t0 + COMMIT_WINDOW,
            t0 + COMMIT_WINDOW + REVEAL_WINDOW,
            t0 + COMMIT_WINDOW + REVEAL_WINDOW + SETTLE_WINDOW
        );
        vm.expectEmit();
        emit AggregatorBondPosted(taskId, aggregator, BOND);
        openRound(taskId, 1);

        RoundInfo memory r = market.getRound(taskId, 1);
        vm.assertEq(r.status, ROUND_OPEN, "open");
        vm.assertEq(r.openedAt, t0, "openedAt");
        vm.assertEq(r.commitDeadline, t0 + COMMIT_WINDOW, "commit deadline");
        vm.assertEq(r.settleDeadline, t0 + COMMIT_WINDOW + REVEAL_WINDOW + SETTLE_WINDOW, "settle");
        TaskInfo memory t = market.getTask(taskId);
        vm.assertEq(t.lastRound, 1, "lastRound");
        vm.assertTrue(t.aggregatorBondHeld, "bond held");
        vm.assertEq(t.openDeadline, 0, "no round due while one is open");
        vm.assertEq(before - token.balanceOf(aggregator), BOND, "bond pulled once");
        vm.assertEq(market.phase(taskId), PHASE_COMMIT, "phase");
    }

    function testBondIsPostedOnceForTheTask() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0);
        afterChallengeWindow(taskId, 1);
        uint256 before = token.balanceOf(aggregator);
        vm.recordLogs();
        openRound(taskId, 2);
        vm.assertEq(vm.getRecordedLogs().length, 2, "finalized + opened, no bond transfer");
        vm.assertEq(token.balanceOf(aggregator), before, "no second bond");
    }

    function testOpenRoundReverts() public {
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotAggregator.selector, taskId, alice));
        vm.prank(alice);
        market.openRound(taskId, MODEL0);

        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceModelMismatch.selector,
                taskId,
                1,
                keccak256(bytes(MODEL0)),
                keccak256("bafkreiother")
            )
        );
        vm.prank(aggregator);
        market.openRound(taskId, "bafkreiother");

        openRound(taskId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_COMMIT)
        );
        vm.prank(aggregator);
        market.openRound(taskId, MODEL0);
    }

    function testOpenRoundRevertsWithoutBondAllowance() public {
        vm.prank(aggregator);
        token.approve(address(market), 0);
        vm.expectRevert();
        openRound(taskId, 1);
    }

    function testOpenRoundOneDeadline() public {
        uint64 deadline = uint64(block.timestamp) + SETTLE_WINDOW;
        vm.assertEq(market.getTask(taskId).openDeadline, deadline, "deadline view");
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, deadline));
        openRound(taskId, 1);
    }

    function testOpenRoundOneAtDeadline() public {
        vm.warp(block.timestamp + SETTLE_WINDOW);
        openRound(taskId, 1);
        vm.assertEq(market.getTask(taskId).lastRound, 1, "opened at the deadline");
    }

    function testNextRoundDeadlineCountsFromEffectiveFinalTime() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0);
        uint64 finalAt = market.getRound(taskId, 1).challengeDeadline;
        // nobody finalizes for a while: the deadline still counts from the window's end
        vm.warp(finalAt + SETTLE_WINDOW + 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 2, finalAt + SETTLE_WINDOW)
        );
        openRound(taskId, 2);
        market.finalize(taskId);
        vm.assertEq(market.getRound(taskId, 1).finalAt, finalAt, "effective final time");
        vm.assertEq(market.getTask(taskId).openDeadline, finalAt + SETTLE_WINDOW, "view");
    }

    function testOpenRoundNeedsFinalPreviousRound() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(uint256(1)), 10 ether);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_CHALLENGE)
        );
        openRound(taskId, 2);

        afterChallengeWindow(taskId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceModelMismatch.selector,
                taskId,
                2,
                keccak256(bytes(modelCid(1))),
                keccak256(bytes(MODEL0))
            )
        );
        vm.prank(aggregator);
        market.openRound(taskId, MODEL0);

        openRound(taskId, 2);
        vm.assertEq(market.getRound(taskId, 1).status, ROUND_FINAL, "round 1 finalized lazily");
        vm.assertEq(market.getRound(taskId, 2).status, ROUND_OPEN, "round 2 open");
    }

    function testOpenRoundNeedsRulingOnChallengedRound() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(uint256(1)), 10 ether);
        disputeRound(taskId, 1, single(carol));
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_RULING)
        );
        openRound(taskId, 2);
    }

    function testOpenRoundAfterCorrectionUsesArbitersModel() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(uint256(1)), 10 ether);
        disputeRound(taskId, 1, single(carol));
        upholdWith(taskId, 1, bytes32(0), 0);

        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceModelMismatch.selector,
                taskId,
                2,
                keccak256("bafkreicorrected1"),
                keccak256(bytes(modelCid(1)))
            )
        );
        vm.prank(aggregator);
        market.openRound(taskId, modelCid(1));

        uint256 before = token.balanceOf(aggregator);
        vm.expectEmit();
        emit AggregatorBondPosted(taskId, aggregator, BOND);
        vm.prank(aggregator);
        market.openRound(taskId, "bafkreicorrected1");
        vm.assertEq(before - token.balanceOf(aggregator), BOND, "a new bond after a forfeit");
    }

    function testOpenRoundRevertsAfterEnd() public {
        openRound(taskId, 1);
        afterSettleDeadline(taskId, 1);
        market.windDown(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_ENDED)
        );
        vm.prank(aggregator);
        market.openRound(taskId, MODEL0);
    }

    function testCommit() public {
        openRound(taskId, 1);
        bytes32 c = commitmentOf(taskId, 1, alice);

        vm.expectEmit();
        emit Committed(taskId, 1, alice, c);
        vm.prank(alice);
        market.commit(taskId, c);

        (bytes32 stored, bool isRevealed,,) = market.participantRoundOf(taskId, 1, alice);
        vm.assertEq(stored, c, "stored");
        vm.assertFalse(isRevealed, "not revealed");
        (,,,, uint256 unrevealed) = market.participantOf(taskId, alice);
        vm.assertEq(unrevealed, 1, "pending commitment counted");
    }

    function testCommit(bytes32 c) public {
        vm.assume(c != bytes32(0));
        openRound(taskId, 1);
        vm.prank(bob);
        market.commit(taskId, c);
        (bytes32 stored,,,) = market.participantRoundOf(taskId, 1, bob);
        vm.assertEq(stored, c, "stored");
    }

    function testCommitReverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 0, PHASE_CREATED)
        );
        vm.prank(alice);
        market.commit(taskId, bytes32(uint256(1)));

        openRound(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotParticipant.selector, taskId, carol));
        vm.prank(carol);
        market.commit(taskId, bytes32(uint256(1)));

        vm.expectRevert(abi.encodeWithSelector(MarketplaceZeroCommitment.selector, taskId, 1));
        vm.prank(alice);
        market.commit(taskId, bytes32(0));

        commit(taskId, 1, alice);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceAlreadyCommitted.selector, taskId, 1, alice)
        );
        vm.prank(alice);
        market.commit(taskId, bytes32(uint256(2)));

        uint64 deadline = market.getRound(taskId, 1).commitDeadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, deadline));
        vm.prank(bob);
        market.commit(taskId, bytes32(uint256(1)));

        vm.expectRevert(abi.encodeWithSelector(MarketplaceUnknownTask.selector, 9));
        vm.prank(bob);
        market.commit(9, bytes32(uint256(1)));
    }

    function testCommitAtDeadline() public {
        openRound(taskId, 1);
        vm.warp(market.getRound(taskId, 1).commitDeadline);
        commit(taskId, 1, alice);
        (bytes32 stored,,,) = market.participantRoundOf(taskId, 1, alice);
        vm.assertTrue(stored != bytes32(0), "accepted at the deadline");
    }

    function testReveal() public {
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        toRevealWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_REVEAL, "phase");
        string memory cid = updateCid(alice, 1);

        vm.expectEmit();
        emit Revealed(taskId, 1, alice, cid, sha256(bytes(cid)), 100);
        reveal(taskId, 1, alice);

        vm.assertTrue(revealed(taskId, 1, alice), "revealed");
        (,,,, uint256 unrevealed) = market.participantOf(taskId, alice);
        vm.assertEq(unrevealed, 0, "no pending commitment");
    }

    function testReveal(bytes32 digest, uint32 samples, bytes32 salt) public {
        samples = uint32(bound(samples, 1, 10_000));
        openRound(taskId, 1);
        bytes32 c = market.commitmentFor(taskId, 1, "bafkreix", digest, samples, bob, salt);
        vm.prank(bob);
        market.commit(taskId, c);
        toRevealWindow(taskId, 1);

        vm.prank(bob);
        market.reveal(taskId, "bafkreix", digest, samples, salt);

        vm.assertTrue(revealed(taskId, 1, bob), "revealed");
    }

    function testRevealReverts() public {
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        bytes32 salt = keccak256(abi.encode("salt", alice, uint32(1)));
        string memory cid = updateCid(alice, 1);
        bytes32 digest = sha256(bytes(cid));

        uint64 commitDeadline = market.getRound(taskId, 1).commitDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 1, commitDeadline)
        );
        vm.prank(alice);
        market.reveal(taskId, cid, digest, 100, salt);

        toRevealWindow(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotCommitted.selector, taskId, 1, bob));
        vm.prank(bob);
        market.reveal(taskId, cid, digest, 100, salt);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidSamples.selector, taskId, 0, 10_000)
        );
        vm.prank(alice);
        market.reveal(taskId, cid, digest, 0, salt);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidSamples.selector, taskId, 10_001, 10_000)
        );
        vm.prank(alice);
        market.reveal(taskId, cid, digest, 10_001, salt);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceCommitmentMismatch.selector, taskId, 1, alice)
        );
        vm.prank(alice);
        market.reveal(taskId, cid, digest, 101, salt);

        reveal(taskId, 1, alice);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceAlreadyRevealed.selector, taskId, 1, alice)
        );
        vm.prank(alice);
        market.reveal(taskId, cid, digest, 100, salt);
    }

    function testRevealRevertsAfterDeadline() public {
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        uint64 deadline = market.getRound(taskId, 1).revealDeadline;
        vm.warp(deadline + 1);
        string memory cid = updateCid(alice, 1);
        bytes32 digest = sha256(bytes(cid));
        bytes32 salt = keccak256(abi.encode("salt", alice, uint32(1)));
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, deadline));
        vm.prank(alice);
        market.reveal(taskId, cid, digest, 100, salt);
    }

    function testCommitmentDoesNotOpenForAnotherAccountOrRound() public {
        openRound(taskId, 1);
        bytes32 salt = bytes32(uint256(7));
        bytes32 aliceCommitment = market.commitmentFor(taskId, 1, "bafkreiz", 0, 5, alice, salt);
        vm.prank(alice);
        market.commit(taskId, aliceCommitment);
        vm.prank(bob);
        market.commit(taskId, aliceCommitment); // bob copies alice's commitment
        toRevealWindow(taskId, 1);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceCommitmentMismatch.selector, taskId, 1, bob)
        );
        vm.prank(bob);
        market.reveal(taskId, "bafkreiz", 0, 5, salt);

        // The same values bound to round 2 do not open round 1's commitment either.
        bytes32 round2 = market.commitmentFor(taskId, 2, "bafkreiz", 0, 5, alice, salt);
        vm.assertTrue(round2 != aliceCommitment, "round is bound");
    }

    function testSettle() public {
        openRound(taskId, 1);
        toSettleWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_SETTLE, "phase before");
        uint256 before = token.balanceOf(aggregator);
        bytes32 root = keccak256("root");

        vm.expectEmit();
        emit RoundSettled(
            taskId,
            1,
            modelCid(1),
            "bafkreireport",
            root,
            400 ether,
            uint64(block.timestamp) + CHALLENGE_WINDOW
        );
        settle(taskId, 1, root, 400 ether);

        RoundInfo memory r = market.getRound(taskId, 1);
        vm.assertEq(r.status, ROUND_SETTLED, "settled");
        vm.assertEq(r.payoutRoot, root, "root");
        vm.assertEq(r.totalPaid, 400 ether, "paid");
        vm.assertEq(r.newGlobalCidHash, keccak256(bytes(modelCid(1))), "model hash");
        vm.assertEq(r.challengeDeadline, block.timestamp + CHALLENGE_WINDOW, "challenge deadline");
        vm.assertEq(r.evidenceDeadline, r.challengeDeadline + REVEAL_WINDOW, "evidence deadline");
        vm.assertEq(r.resolveDeadline, r.evidenceDeadline + RESOLVE_WINDOW, "resolve deadline");
        vm.assertEq(token.balanceOf(aggregator), before, "settle pulls no bond");
        vm.assertEq(market.phase(taskId), PHASE_CHALLENGE, "phase after");
    }

    function testSettle(uint128 totalPaid) public {
        totalPaid = uint128(bound(totalPaid, 0, BUDGET));
        openRound(taskId, 1);
        toSettleWindow(taskId, 1);
        settle(taskId, 1, bytes32(0), totalPaid);
        vm.assertEq(market.getRound(taskId, 1).totalPaid, totalPaid, "paid");
    }

    function testSettleReverts() public {
        openRound(taskId, 1);
        uint64 revealDeadline = market.getRound(taskId, 1).revealDeadline;
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 1, revealDeadline)
        );
        settle(taskId, 1, bytes32(0), 0);

        toSettleWindow(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotAggregator.selector, taskId, alice));
        vm.prank(alice);
        market.settle(taskId, "x", "y", bytes32(0), 0);

        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceOverBudget.selector, taskId, 1, uint256(BUDGET) + 1, BUDGET
            )
        );
        settle(taskId, 1, bytes32(0), uint256(BUDGET) + 1);

        settle(taskId, 1, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_CHALLENGE)
        );
        settle(taskId, 1, bytes32(0), 0);
    }

    function testSettleRevertsAfterDeadline() public {
        openRound(taskId, 1);
        uint64 deadline = market.getRound(taskId, 1).settleDeadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, deadline));
        settle(taskId, 1, bytes32(0), 0);
    }

    function testWindDownMissedSettlement() public {
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        uint64 deadline = market.getRound(taskId, 1).settleDeadline;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 1, deadline));
        market.windDown(taskId);
        vm.warp(deadline + 1);

        vm.expectEmit();
        emit TaskEnded(taskId, ENDED_SETTLEMENT_MISSED, uint64(block.timestamp));
        vm.expectEmit();
        emit AggregatorBondForfeited(taskId, 1, BOND, BOND);
        vm.prank(outsider);
        market.windDown(taskId);

        vm.assertEq(market.phase(taskId), PHASE_ENDED, "ended");
        TaskInfo memory t = market.getTask(taskId);
        vm.assertEq(t.endedAt, block.timestamp, "endedAt");
        vm.assertEq(t.totalForfeited, BOND, "bond owed to the requester");
        vm.assertFalse(t.aggregatorBondHeld, "bond no longer held");
        uint256 before = token.balanceOf(bob);
        vm.prank(bob);
        market.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(bob) - before, MIN_STAKE, "stake back");
    }

    function testWindDownBeforeRoundOne() public {
        uint64 deadline = uint64(block.timestamp) + SETTLE_WINDOW;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 0, deadline));
        market.windDown(taskId);
        vm.warp(deadline + 1);

        vm.expectEmit();
        emit TaskEnded(taskId, ENDED_ROUND_NOT_OPENED, uint64(block.timestamp));
        market.windDown(taskId);

        vm.assertEq(market.getTask(taskId).totalForfeited, 0, "no bond was posted yet");
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        market.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(alice) - before, MIN_STAKE, "stake back");
        before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(taskId);
        vm.assertEq(token.balanceOf(requester) - before, 3 * uint256(BUDGET), "budget back");
    }

    function testWindDownBetweenRounds() public {
        uint256[] memory paid = amounts(600 ether, 400 ether);
        finalRound(taskId, 1, pair(alice, bob), paid);
        uint64 deadline = market.getRound(taskId, 1).finalAt + SETTLE_WINDOW;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 1, deadline));
        market.windDown(taskId);
        vm.warp(deadline + 1);

        vm.expectEmit();
        emit TaskEnded(taskId, ENDED_ROUND_NOT_OPENED, uint64(block.timestamp));
        vm.expectEmit();
        emit AggregatorBondForfeited(taskId, 1, BOND, BOND);
        market.windDown(taskId);

        // round 1 stays claimable; the two rounds never run are refunded, with the bond
        claimRound(taskId, 1, alice, pair(alice, bob), paid);
        publishValidation(taskId);
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(taskId);
        vm.assertEq(
            token.balanceOf(requester) - before, 2 * uint256(BUDGET) + BOND, "refund + bond"
        );
    }

    function testWindDownReverts() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_CHALLENGE)
        );
        market.windDown(taskId);

        afterChallengeWindow(taskId, 1);
        openRound(taskId, 2);
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceTooEarly.selector, taskId, 2, market.getRound(taskId, 2).settleDeadline
            )
        );
        market.windDown(taskId);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceUnknownTask.selector, 99));
        market.windDown(99);
    }

    function testWindDownRevertsOnceTheLastRoundIsFinal() public {
        for (uint32 r = 1; r <= 3; r++) {
            runRound(taskId, r, pair(alice, bob), bytes32(0), 0);
            afterChallengeWindow(taskId, r);
        }
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 3, PHASE_ENDED)
        );
        market.windDown(taskId);
    }

    function testPhaseWalksThroughARound() public {
        vm.assertEq(market.phase(taskId), PHASE_CREATED, "created");
        openRound(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_COMMIT, "commit");
        toRevealWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_REVEAL, "reveal");
        toSettleWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_SETTLE, "settle");
        settle(taskId, 1, bytes32(0), 0);
        vm.assertEq(market.phase(taskId), PHASE_CHALLENGE, "challenge");
        afterChallengeWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_FINAL, "final (lazy)");
    }

    function testPhaseWalksThroughADispute() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0);
        challengeAs(taskId, 1, carol);
        vm.assertEq(market.phase(taskId), PHASE_CHALLENGE, "challenge");
        toEvidenceWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_EVIDENCE, "evidence");
        revealEvidenceAs(taskId, 1, carol);
        toRulingWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_RULING, "ruling");
        afterResolveDeadline(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_FINAL, "final (arbiter silent, lazy)");
    }

    function testPhaseAfterUnrevealedChallenge() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0);
        challengeAs(taskId, 1, carol);
        toRulingWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_FINAL, "final (no evidence, lazy)");
    }
}
