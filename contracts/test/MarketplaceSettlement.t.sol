// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RoundInfo, TaskInfo, TaskParams} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice challenge, revealEvidence, reject, uphold, finalize, collectChallenge, slash and
/// withdrawCredit.
contract MarketplaceSettlementTest is MarketplaceFixture {
    uint256 internal taskId;
    bytes32 internal root;
    uint256[] internal paid;

    function setUp() public override {
        super.setUp();
        taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
        paid = amounts(100 ether, 50 ether);
        root = rootOf(taskId, 1, pair(alice, bob), paid);
        runRound(taskId, 1, pair(alice, bob), root, 150 ether);
    }

    function commitmentFor(address who) internal view returns (bytes32) {
        return market.evidenceCommitmentFor(taskId, 1, evidenceCid(who), who, evidenceSalt(who, 1));
    }

    function testEvidenceCommitmentEncoding() public view {
        bytes32 expected = keccak256(
            abi.encode(
                taskId,
                uint32(1),
                keccak256(bytes(evidenceCid(carol))),
                carol,
                evidenceSalt(carol, 1)
            )
        );
        vm.assertEq(commitmentFor(carol), expected, "encoding");
    }

    function testChallenge() public {
        uint256 before = token.balanceOf(carol);
        bytes32 c = commitmentFor(carol);
        vm.expectEmit();
        emit SettlementChallenged(taskId, 1, carol, c);
        vm.prank(carol);
        market.challenge(taskId, 1, c);

        RoundInfo memory r = market.getRound(taskId, 1);
        vm.assertEq(r.status, ROUND_CHALLENGED, "challenged");
        vm.assertEq(r.challengers, 1, "one challenger");
        (bytes32 stored, uint8 state) = market.challengeOf(taskId, 1, carol);
        vm.assertEq(stored, c, "commitment");
        vm.assertEq(state, CHALLENGE_COMMITTED, "state");
        vm.assertEq(before - token.balanceOf(carol), BOND, "bond pulled");
        vm.assertEq(market.phase(taskId), PHASE_CHALLENGE, "phase");
    }

    function testSeveralAccountsChallengeOneSettlement() public {
        challengeAs(taskId, 1, carol);
        challengeAs(taskId, 1, outsider);
        challengeAs(taskId, 1, alice);
        challengeAs(taskId, 1, requester);
        vm.assertEq(market.getRound(taskId, 1).challengers, 4, "four challengers");
    }

    function testChallengeReverts() public {
        bytes32 c = commitmentFor(aggregator);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceRoleConflict.selector, taskId, aggregator)
        );
        vm.prank(aggregator);
        market.challenge(taskId, 1, c);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoleConflict.selector, taskId, arbiter));
        vm.prank(arbiter);
        market.challenge(taskId, 1, c);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 2, PHASE_CHALLENGE)
        );
        vm.prank(carol);
        market.challenge(taskId, 2, c);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceZeroCommitment.selector, taskId, 1));
        vm.prank(carol);
        market.challenge(taskId, 1, bytes32(0));

        challengeAs(taskId, 1, carol);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceAlreadyChallenged.selector, taskId, 1, carol)
        );
        vm.prank(carol);
        market.challenge(taskId, 1, c);
    }

    function testChallengeRevertsAfterWindow() public {
        uint64 deadline = market.getRound(taskId, 1).challengeDeadline;
        vm.warp(deadline);
        challengeAs(taskId, 1, outsider); // the deadline itself is inside the window
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, deadline));
        challengeAs(taskId, 1, carol);
    }

    function testChallengeRevertsWithoutBond() public {
        address broke = makeAddr("broke");
        vm.prank(broke);
        token.approve(address(market), type(uint256).max);
        vm.expectRevert();
        challengeAs(taskId, 1, broke);
    }

    function testChallengedSettlementPaysNothingUntilFinal() public {
        challengeAs(taskId, 1, carol);
        toEvidenceWindow(taskId, 1);
        revealEvidenceAs(taskId, 1, carol);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoundNotFinal.selector, taskId, 1));
        claimRound(taskId, 1, alice, pair(alice, bob), paid);
        toRulingWindow(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoundNotFinal.selector, taskId, 1));
        claimRound(taskId, 1, alice, pair(alice, bob), paid);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_RULING)
        );
        market.finalize(taskId);
        vm.assertEq(market.getTask(taskId).totalAllocated, 0, "nothing allocated");
    }

    function testRevealEvidence() public {
        challengeAs(taskId, 1, carol);
        toEvidenceWindow(taskId, 1);
        vm.expectEmit();
        emit EvidenceRevealed(taskId, 1, carol, evidenceCid(carol));
        revealEvidenceAs(taskId, 1, carol);

        (, uint8 state) = market.challengeOf(taskId, 1, carol);
        vm.assertEq(state, CHALLENGE_REVEALED, "revealed");
        vm.assertEq(market.getRound(taskId, 1).revealedChallengers, 1, "count");
    }

    function testRevealEvidenceReverts() public {
        challengeAs(taskId, 1, carol);
        RoundInfo memory r = market.getRound(taskId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 1, r.challengeDeadline)
        );
        revealEvidenceAs(taskId, 1, carol);

        toEvidenceWindow(taskId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceNotChallenger.selector, taskId, 1, outsider)
        );
        revealEvidenceAs(taskId, 1, outsider);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceEvidenceMismatch.selector, taskId, 1, carol)
        );
        vm.prank(carol);
        market.revealEvidence(taskId, 1, "bafkreiother", evidenceSalt(carol, 1));

        revealEvidenceAs(taskId, 1, carol);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotChallenger.selector, taskId, 1, carol));
        revealEvidenceAs(taskId, 1, carol);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 2, PHASE_EVIDENCE)
        );
        revealEvidenceAs(taskId, 2, carol);
    }

    function testRevealEvidenceRevertsAfterDeadline() public {
        challengeAs(taskId, 1, carol);
        challengeAs(taskId, 1, outsider);
        uint64 deadline = market.getRound(taskId, 1).evidenceDeadline;
        vm.warp(deadline);
        revealEvidenceAs(taskId, 1, carol); // the deadline itself is inside the window
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, deadline));
        revealEvidenceAs(taskId, 1, outsider);
    }

    function testEvidenceCommitmentMatchesTheFixtures() public view {
        vm.assertEq(commitmentFor(carol), evidenceCommitment(taskId, 1, carol), "same encoding");
    }

    function testCopiedCommitmentCannotBeRevealed() public {
        bytes32 c = commitmentFor(carol);
        vm.prank(carol);
        market.challenge(taskId, 1, c);
        vm.prank(outsider);
        market.challenge(taskId, 1, c); // copied from the mempool
        toEvidenceWindow(taskId, 1);
        revealEvidenceAs(taskId, 1, carol);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceEvidenceMismatch.selector, taskId, 1, outsider)
        );
        vm.prank(outsider);
        market.revealEvidence(taskId, 1, evidenceCid(carol), evidenceSalt(carol, 1));
    }

    function testReject() public {
        challengeAs(taskId, 1, carol);
        challengeAs(taskId, 1, outsider); // never reveals
        toEvidenceWindow(taskId, 1);
        revealEvidenceAs(taskId, 1, carol);
        toRulingWindow(taskId, 1);

        vm.expectEmit();
        emit ChallengeRejected(taskId, 1, arbiter);
        vm.expectEmit();
        emit SettlementFinalized(
            taskId, 1, OUTCOME_REJECTED, root, 150 ether, uint64(block.timestamp)
        );
        vm.expectEmit();
        emit CreditAdded(aggregator, 2 * uint256(BOND), taskId, 1);
        vm.prank(arbiter);
        market.reject(taskId, 1);

        RoundInfo memory r = market.getRound(taskId, 1);
        vm.assertEq(r.status, ROUND_FINAL, "final");
        vm.assertEq(r.outcome, OUTCOME_REJECTED, "outcome");
        vm.assertEq(r.payoutRoot, root, "settled root stands");
        vm.assertEq(market.credits(aggregator), 2 * uint256(BOND), "both challenger bonds");
        vm.assertEq(market.getTask(taskId).totalAllocated, 150 ether, "allocated");
        vm.assertTrue(market.getTask(taskId).aggregatorBondHeld, "its own bond still held");
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceNothingToCollect.selector, taskId, 1, carol)
        );
        vm.prank(carol);
        market.collectChallenge(taskId, 1);
        claimRound(taskId, 1, alice, pair(alice, bob), paid);
    }

    function testRulingReverts() public {
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotArbiter.selector, taskId, requester));
        vm.prank(requester);
        market.reject(taskId, 1);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_CHALLENGE)
        );
        vm.prank(arbiter);
        market.reject(taskId, 1);

        challengeAs(taskId, 1, carol);
        RoundInfo memory r = market.getRound(taskId, 1);
        toEvidenceWindow(taskId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 1, r.evidenceDeadline)
        );
        vm.prank(arbiter);
        market.reject(taskId, 1);
        revealEvidenceAs(taskId, 1, carol);

        vm.warp(r.resolveDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, r.resolveDeadline)
        );
        vm.prank(arbiter);
        market.reject(taskId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceTooLate.selector, taskId, 1, r.resolveDeadline)
        );
        upholdWith(taskId, 1, bytes32(0), 0);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotArbiter.selector, taskId, requester));
        vm.prank(requester);
        market.uphold(taskId, 1, "m", "r", bytes32(0), 0);
    }

    function testRulingNeedsEvidence() public {
        challengeAs(taskId, 1, carol);
        toRulingWindow(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNoEvidence.selector, taskId, 1));
        vm.prank(arbiter);
        market.reject(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNoEvidence.selector, taskId, 1));
        upholdWith(taskId, 1, bytes32(0), 0);
    }

    function testUphold() public {
        address[] memory who = new address[](3);
        who[0] = carol;
        who[1] = outsider;
        who[2] = alice;
        address dave = makeAddr("dave");
        fund(dave, BOND);
        challengeAs(taskId, 1, dave); // never reveals
        disputeRound(taskId, 1, who);
        uint256[] memory corrected = amounts(700 ether, 300 ether);
        bytes32 fixedRoot = rootOf(taskId, 1, pair(alice, bob), corrected);
        uint256 dust = uint256(BOND) % 3;

        vm.expectEmit();
        emit SettlementCorrected(
            taskId, 1, "bafkreicorrected1", "bafkreicorrectedreport", fixedRoot, BUDGET, arbiter
        );
        vm.expectEmit();
        emit AggregatorBondForfeited(taskId, 1, BOND, dust);
        vm.expectEmit();
        emit SettlementFinalized(
            taskId, 1, OUTCOME_CORRECTED, fixedRoot, BUDGET, uint64(block.timestamp)
        );
        vm.expectEmit();
        emit CreditAdded(aggregator, BOND, taskId, 1); // dave's unrevealed bond
        upholdWith(taskId, 1, fixedRoot, BUDGET);

        RoundInfo memory r = market.getRound(taskId, 1);
        vm.assertEq(r.status, ROUND_FINAL, "final at once");
        vm.assertEq(r.outcome, OUTCOME_CORRECTED, "corrected");
        vm.assertEq(r.payoutRoot, fixedRoot, "corrected root");
        vm.assertEq(r.totalPaid, BUDGET, "corrected total");
        vm.assertEq(r.newGlobalCidHash, keccak256("bafkreicorrected1"), "corrected model");
        TaskInfo memory t = market.getTask(taskId);
        vm.assertFalse(t.aggregatorBondHeld, "bond forfeited");
        vm.assertEq(t.totalForfeited, dust, "division dust to the requester");
        vm.assertEq(t.totalAllocated, BUDGET, "allocated");

        // each revealed challenger: its bond + a third of the aggregator's
        uint256 share = uint256(BOND) + uint256(BOND) / 3;
        for (uint256 i = 0; i < who.length; i++) {
            uint256 before = token.balanceOf(who[i]);
            vm.expectEmit();
            emit ChallengerPaid(taskId, 1, who[i], share);
            vm.prank(who[i]);
            market.collectChallenge(taskId, 1);
            vm.assertEq(token.balanceOf(who[i]) - before, share, "share");
        }
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceNothingToCollect.selector, taskId, 1, dave)
        );
        vm.prank(dave);
        market.collectChallenge(taskId, 1);

        // the workers are paid the corrected amounts, the settled root is dead
        claimRound(taskId, 1, alice, pair(alice, bob), corrected);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, 1, bob, 50 ether)
        );
        claimRound(taskId, 1, bob, pair(alice, bob), paid);
        claimRound(taskId, 1, bob, pair(alice, bob), corrected);
        vm.assertEq(market.getRound(taskId, 1).totalClaimed, BUDGET, "all claimed");
    }

    function testUpholdRejectsOverBudget() public {
        disputeRound(taskId, 1, single(carol));
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceOverBudget.selector, taskId, 1, uint256(BUDGET) + 1, BUDGET
            )
        );
        upholdWith(taskId, 1, bytes32(0), uint256(BUDGET) + 1);
    }

    /// @dev The bounty split: revealed challengers share the aggregator's bond equally, the
    /// dust goes to the requester, unrevealed bonds to the aggregator; nothing is created or lost.
    function testUpholdSplitsTheBond(uint8 revealedCount, uint8 silentCount, uint96 bond) public {
        uint256 n = bound(revealedCount, 1, 8);
        uint256 m = bound(silentCount, 0, 4);
        TaskParams memory p = defaultParams();
        p.settleBond = uint128(bound(bond, 1, 1_000 ether));
        uint256 other = createTask(p);
        join(other, alice);
        runRound(other, 1, single(alice), bytes32(0), 0);
        address[] memory who = new address[](n + m);
        for (uint256 i = 0; i < n + m; i++) {
            who[i] = makeAddr(string.concat("challenger", vm.toString(i)));
            fund(who[i], p.settleBond);
            challengeAs(other, 1, who[i]);
        }
        toEvidenceWindow(other, 1);
        for (uint256 i = 0; i < n; i++) {
            revealEvidenceAs(other, 1, who[i]);
        }
        toRulingWindow(other, 1);
        uint256 held = token.balanceOf(address(market));
        upholdWith(other, 1, bytes32(0), 0);

        uint256 collected = 0;
        for (uint256 i = 0; i < n; i++) {
            uint256 before = token.balanceOf(who[i]);
            vm.prank(who[i]);
            market.collectChallenge(other, 1);
            collected += token.balanceOf(who[i]) - before;
        }
        uint256 forfeited = market.getTask(other).totalForfeited;
        vm.assertEq(collected, n * p.settleBond + p.settleBond - forfeited, "shares");
        vm.assertLe(forfeited, n - 1, "dust below one unit per challenger");
        vm.assertEq(market.credits(aggregator), m * p.settleBond, "unrevealed bonds");
        vm.assertEq(
            held - token.balanceOf(address(market)), collected, "only the shares left the contract"
        );
    }

    function testFinalizeUnchallenged() public {
        uint64 deadline = market.getRound(taskId, 1).challengeDeadline;
        afterChallengeWindow(taskId, 1);
        vm.expectEmit();
        emit SettlementFinalized(taskId, 1, OUTCOME_UNCHALLENGED, root, 150 ether, deadline);
        vm.prank(outsider);
        market.finalize(taskId);

        RoundInfo memory r = market.getRound(taskId, 1);
        vm.assertEq(r.status, ROUND_FINAL, "final");
        vm.assertEq(r.finalAt, deadline, "effective final time: the window's end");
        vm.assertEq(market.credits(aggregator), 0, "bond held for the next rounds");
        vm.assertEq(market.getTask(taskId).lastFinalRound, 1, "last final");
        vm.assertEq(market.getTask(taskId).modelCidHash, keccak256(bytes(modelCid(1))), "model");
    }

    function testFinalizeFrivolousChallengeRightAfterEvidenceDeadline() public {
        challengeAs(taskId, 1, carol);
        challengeAs(taskId, 1, outsider);
        uint64 evidenceDeadline = market.getRound(taskId, 1).evidenceDeadline;
        vm.warp(evidenceDeadline);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_EVIDENCE)
        );
        market.finalize(taskId);
        vm.warp(evidenceDeadline + 1);

        vm.expectEmit();
        emit SettlementFinalized(taskId, 1, OUTCOME_NO_EVIDENCE, root, 150 ether, evidenceDeadline);
        vm.expectEmit();
        emit CreditAdded(aggregator, 2 * uint256(BOND), taskId, 1);
        market.finalize(taskId);

        vm.assertEq(market.getRound(taskId, 1).outcome, OUTCOME_NO_EVIDENCE, "outcome");
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceNothingToCollect.selector, taskId, 1, carol)
        );
        vm.prank(carol);
        market.collectChallenge(taskId, 1);
        claimRound(taskId, 1, bob, pair(alice, bob), paid);
    }

    function testFinalizeWhenArbiterSilent() public {
        challengeAs(taskId, 1, outsider); // never reveals
        disputeRound(taskId, 1, single(carol));
        uint64 resolveDeadline = market.getRound(taskId, 1).resolveDeadline;
        vm.warp(resolveDeadline);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_RULING)
        );
        market.finalize(taskId);
        vm.warp(resolveDeadline + 1);

        vm.expectEmit();
        emit SettlementFinalized(
            taskId, 1, OUTCOME_ARBITER_SILENT, root, 150 ether, resolveDeadline
        );
        vm.expectEmit();
        emit CreditAdded(aggregator, BOND, taskId, 1);
        market.finalize(taskId);

        uint256 before = token.balanceOf(carol);
        vm.prank(carol);
        market.collectChallenge(taskId, 1);
        vm.assertEq(token.balanceOf(carol) - before, BOND, "revealed challenger: bond back");
        vm.assertTrue(market.getTask(taskId).aggregatorBondHeld, "aggregator keeps its bond");
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceNothingToCollect.selector, taskId, 1, carol)
        );
        vm.prank(carol);
        market.collectChallenge(taskId, 1);
        claimRound(taskId, 1, alice, pair(alice, bob), paid);
    }

    function testCollectChallengeFinalizesLazily() public {
        disputeRound(taskId, 1, single(carol));
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoundNotFinal.selector, taskId, 1));
        vm.prank(carol);
        market.collectChallenge(taskId, 1);
        afterResolveDeadline(taskId, 1);
        vm.prank(carol);
        market.collectChallenge(taskId, 1);
        vm.assertEq(market.getRound(taskId, 1).status, ROUND_FINAL, "finalized by the collect");
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

    function testFinalizeLastRoundEndsTaskAndReturnsBond() public {
        for (uint32 r = 1; r < 3; r++) {
            afterChallengeWindow(taskId, r);
            runRound(taskId, r + 1, pair(alice, bob), bytes32(0), 0);
        }
        uint64 finalAt = market.getRound(taskId, 3).challengeDeadline;
        afterChallengeWindow(taskId, 3);
        vm.assertEq(market.getTask(taskId).claimDeadline, 0, "stored state: still active");
        vm.expectEmit();
        emit TaskEnded(taskId, ENDED_COMPLETED, finalAt);
        vm.expectEmit();
        emit AggregatorBondReturned(taskId, aggregator, BOND);
        vm.expectEmit();
        emit CreditAdded(aggregator, BOND, taskId, 3);
        market.finalize(taskId);

        vm.assertEq(market.phase(taskId), PHASE_ENDED, "ended");
        TaskInfo memory t = market.getTask(taskId);
        vm.assertEq(t.endedAt, finalAt, "ended at the effective final time");
        vm.assertEq(t.claimDeadline, finalAt + CLAIM_WINDOW, "claim deadline");
        vm.assertEq(market.credits(aggregator), BOND, "bond credited back");
    }

    function testUpholdOnLastRoundEndsTaskWithoutReturningBond() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        uint256 other = createTask(p);
        join(other, alice);
        runRound(other, 1, single(alice), bytes32(0), 0);
        disputeRound(other, 1, single(carol));
        vm.expectEmit();
        emit TaskEnded(other, ENDED_COMPLETED, uint64(block.timestamp));
        upholdWith(other, 1, rootOf(other, 1, single(alice), one(BUDGET)), BUDGET);

        TaskInfo memory t = market.getTask(other);
        vm.assertEq(t.status, 2, "ended");
        vm.assertEq(t.endedAt, block.timestamp, "at the ruling");
        vm.assertFalse(t.aggregatorBondHeld, "forfeited, not returned");
        vm.assertEq(market.credits(aggregator), 0, "nothing back for the aggregator");
        claimRound(other, 1, alice, single(alice), one(BUDGET));
        vm.prank(carol);
        market.collectChallenge(other, 1);
        vm.assertEq(token.balanceOf(carol), FUNDS + BOND, "carol: the aggregator's bond");
    }

    function testRejectOnLastRoundReturnsBond() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        uint256 other = createTask(p);
        join(other, alice);
        runRound(other, 1, single(alice), bytes32(0), 0);
        disputeRound(other, 1, single(carol));
        vm.expectEmit();
        emit AggregatorBondReturned(other, aggregator, BOND);
        vm.prank(arbiter);
        market.reject(other, 1);
        vm.assertEq(market.credits(aggregator), 2 * uint256(BOND), "own bond + carol's");
    }

    function testChallengingParticipantIsPaidBoth() public {
        disputeRound(taskId, 1, single(alice));
        upholdWith(taskId, 1, rootOf(taskId, 1, pair(alice, bob), paid), 150 ether);
        uint256 before = token.balanceOf(alice);
        claimRound(taskId, 1, alice, pair(alice, bob), paid);
        vm.prank(alice);
        market.collectChallenge(taskId, 1);
        vm.assertEq(token.balanceOf(alice) - before, 100 ether + 2 * uint256(BOND), "both");
    }

    function testWithdrawCredit() public {
        challengeAs(taskId, 1, carol);
        toRulingWindow(taskId, 1);
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

        (uint256 stake,, uint256 slashed,, uint256 unrevealed) = market.participantOf(taskId, alice);
        vm.assertEq(stake, MIN_STAKE - MIN_STAKE / 10, "stake left");
        vm.assertEq(slashed, MIN_STAKE / 10, "slashed");
        vm.assertEq(unrevealed, 0, "no pending commitment");
        vm.assertEq(market.getTask(taskId).totalSlashed, MIN_STAKE / 10, "task total");
        (,, bool isSlashed,) = market.participantRoundOf(taskId, 2, alice);
        vm.assertTrue(isSlashed, "flag");
    }

    function testSlashTakesShareOfOriginalStakeCappedAtRemainder() public {
        TaskParams memory p = defaultParams();
        p.slashBps = 4_000;
        p.rounds = 4;
        uint256 other = createTask(p);
        join(other, carol);
        uint256[4] memory expected = [uint256(4 ether), 4 ether, 2 ether, 0];
        for (uint32 r = 1; r <= 4; r++) {
            openRound(other, r);
            commit(other, r, carol);
            toSettleWindow(other, r);
            if (expected[r - 1] == 0) {
                vm.expectRevert(
                    abi.encodeWithSelector(MarketplaceNothingToSlash.selector, other, r, carol)
                );
            } else {
                vm.expectEmit();
                emit ParticipantSlashed(other, r, carol, expected[r - 1]);
            }
            market.slash(other, r, carol);
            settle(other, r, bytes32(0), 0);
            afterChallengeWindow(other, r);
        }
        (uint256 stake,, uint256 slashed,,) = market.participantOf(other, carol);
        vm.assertEq(stake, 0, "all gone");
        vm.assertEq(slashed, MIN_STAKE, "staked == slashed");
    }

    function testSlash(uint16 bps, uint96 stake) public {
        bps = uint16(bound(bps, 1, 5_000));
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

        (uint256 held,, uint256 slashed,,) = market.participantOf(other, carol);
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
        afterSettleDeadline(lenient, 1);
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
        afterSettleDeadline(taskId, 2);
        market.windDown(taskId);
        publishValidation(taskId);
        vm.prank(requester);
        market.refund(taskId);
        uint256 before = token.balanceOf(requester);

        market.slash(taskId, 2, alice);
        vm.prank(requester);
        market.refund(taskId);

        vm.assertEq(token.balanceOf(requester) - before, MIN_STAKE / 10, "slashed stake refunded");
    }
}
