// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RoundInfo} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice openRound, commit, reveal, settle, windDown and the phase view.
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
        vm.expectEmit();
        emit RoundOpened(
            taskId,
            1,
            MODEL0,
            t0 + COMMIT_WINDOW,
            t0 + COMMIT_WINDOW + REVEAL_WINDOW,
            t0 + COMMIT_WINDOW + REVEAL_WINDOW + SETTLE_WINDOW
        );
        openRound(taskId, 1);

        RoundInfo memory r = market.getRound(taskId, 1);
        vm.assertEq(r.status, 1, "open");
        vm.assertEq(r.openedAt, t0, "openedAt");
        vm.assertEq(r.commitDeadline, t0 + COMMIT_WINDOW, "commit deadline");
        vm.assertEq(r.settleDeadline, t0 + COMMIT_WINDOW + REVEAL_WINDOW + SETTLE_WINDOW, "settle");
        vm.assertEq(market.getTask(taskId).lastRound, 1, "lastRound");
        vm.assertEq(market.phase(taskId), PHASE_COMMIT, "phase");
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
        vm.assertEq(market.getRound(taskId, 1).status, 4, "round 1 finalized lazily");
        vm.assertEq(market.getRound(taskId, 2).status, 1, "round 2 open");
    }

    function testOpenRoundAfterVoidedRoundKeepsPreviousModel() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(uint256(1)), 10 ether);
        vm.prank(carol);
        market.challenge(taskId, 1, "bafkreievidence");
        vm.prank(arbiter);
        market.resolve(taskId, 1, true);

        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceModelMismatch.selector,
                taskId,
                2,
                keccak256(bytes(MODEL0)),
                keccak256(bytes(modelCid(1)))
            )
        );
        vm.prank(aggregator);
        market.openRound(taskId, modelCid(1));

        vm.prank(aggregator);
        market.openRound(taskId, MODEL0);
        vm.assertEq(market.getTask(taskId).lastRound, 2, "round 2 opened on the old model");
    }

    function testOpenRoundRevertsAfterEnd() public {
        openRound(taskId, 1);
        vm.warp(market.getRound(taskId, 1).settleDeadline + 1);
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

        (bytes32 stored, bool revealed) = market.commitmentOf(taskId, 1, alice);
        vm.assertEq(stored, c, "stored");
        vm.assertFalse(revealed, "not revealed");
    }

    function testCommit(bytes32 c) public {
        vm.assume(c != bytes32(0));
        openRound(taskId, 1);
        vm.prank(bob);
        market.commit(taskId, c);
        (bytes32 stored,) = market.commitmentOf(taskId, 1, bob);
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
        (bytes32 stored,) = market.commitmentOf(taskId, 1, alice);
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

        (, bool revealed) = market.commitmentOf(taskId, 1, alice);
        vm.assertTrue(revealed, "revealed");
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

        (, bool revealed) = market.commitmentOf(taskId, 1, bob);
        vm.assertTrue(revealed, "revealed");
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
        vm.assertEq(r.status, 2, "settled");
        vm.assertEq(r.payoutRoot, root, "root");
        vm.assertEq(r.totalPaid, 400 ether, "paid");
        vm.assertEq(r.newGlobalCidHash, keccak256(bytes(modelCid(1))), "model hash");
        vm.assertEq(r.challengeDeadline, block.timestamp + CHALLENGE_WINDOW, "challenge deadline");
        vm.assertEq(before - token.balanceOf(aggregator), BOND, "bond pulled");
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

    function testSettleRevertsWithoutBondAllowance() public {
        openRound(taskId, 1);
        toSettleWindow(taskId, 1);
        vm.prank(aggregator);
        token.approve(address(market), 0);
        vm.expectRevert();
        settle(taskId, 1, bytes32(0), 0);
    }

    function testWindDown() public {
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        uint64 deadline = market.getRound(taskId, 1).settleDeadline;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceTooEarly.selector, taskId, 1, deadline));
        market.windDown(taskId);
        vm.warp(deadline + 1);

        vm.expectEmit();
        emit TaskEnded(taskId, 1);
        vm.prank(outsider);
        market.windDown(taskId);

        vm.assertEq(market.phase(taskId), PHASE_ENDED, "ended");
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        market.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(alice) - before, MIN_STAKE, "stake back");
    }

    function testWindDownReverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 0, PHASE_CREATED)
        );
        market.windDown(taskId);

        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0);
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_FINAL)
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
}
