// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RoundClaim, TaskInfo, TaskParams} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice claim (per-round Merkle payouts, several rounds per transaction), the claim window
/// and the refund of unclaimed allocations, and withdrawStake (with pending slashes).
contract MarketplaceClaimTest is MarketplaceFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
    }

    function claimsOf(address who, uint32[] memory rounds, uint256[][] memory values)
        internal
        view
        returns (RoundClaim[] memory claims)
    {
        claims = new RoundClaim[](rounds.length);
        for (uint256 i = 0; i < rounds.length; i++) {
            claims[i] = roundClaim(taskId, rounds[i], who, pair(alice, bob), values[i]);
        }
    }

    function testClaim() public {
        uint256[] memory v = amounts(300 ether, 200 ether);
        runRound(taskId, 1, pair(alice, bob), rootOf(taskId, 1, pair(alice, bob), v), 500 ether);
        afterChallengeWindow(taskId, 1);
        uint256 before = token.balanceOf(alice);

        vm.expectEmit();
        emit Claimed(taskId, alice, 1, 300 ether);
        claimRound(taskId, 1, alice, pair(alice, bob), v);

        vm.assertEq(token.balanceOf(alice) - before, 300 ether, "paid");
        vm.assertTrue(claimed(taskId, 1, alice), "recorded");
        vm.assertFalse(claimed(taskId, 1, bob), "bob not yet");
        vm.assertTrue(claimed(taskId, 1, alice), "recorded (participantRoundOf)");
        vm.assertEq(market.getRound(taskId, 1).totalClaimed, 300 ether, "round total");
        vm.assertEq(market.getTask(taskId).totalClaimed, 300 ether, "task total");
        vm.assertEq(market.getRound(taskId, 1).status, ROUND_FINAL, "finalized lazily");
    }

    function testClaim(uint96 a, uint96 b) public {
        uint256 x = bound(a, 1, BUDGET - 1);
        uint256 y = bound(b, 1, BUDGET - x);
        uint256[] memory v = amounts(x, y);
        finalRound(taskId, 1, pair(alice, bob), v);

        claimRound(taskId, 1, alice, pair(alice, bob), v);
        claimRound(taskId, 1, bob, pair(alice, bob), v);

        vm.assertEq(
            token.balanceOf(address(market)),
            3 * uint256(BUDGET) - x - y + 2 * MIN_STAKE + BOND,
            "held"
        );
        vm.assertEq(market.getRound(taskId, 1).totalClaimed, x + y, "round total");
        vm.assertEq(market.getTask(taskId).totalClaimed, x + y, "task total");
    }

    function testClaimSeveralRoundsInOneTransaction() public {
        uint32[] memory rounds = new uint32[](3);
        uint256[][] memory values = new uint256[][](3);
        for (uint32 r = 1; r <= 3; r++) {
            rounds[r - 1] = r;
            values[r - 1] = amounts(100 ether * r, 50 ether * r);
            finalRound(taskId, r, pair(alice, bob), values[r - 1]);
        }
        RoundClaim[] memory claims = claimsOf(bob, rounds, values);
        uint256 before = token.balanceOf(bob);

        vm.recordLogs();
        vm.prank(bob);
        market.claim(taskId, claims);

        vm.assertEq(token.balanceOf(bob) - before, 300 ether, "three rounds in one claim");
        // three Claimed events and a single token Transfer
        vm.assertEq(vm.getRecordedLogs().length, 4, "events");
        for (uint32 r = 1; r <= 3; r++) {
            vm.assertTrue(claimed(taskId, r, bob), "claimed");
        }
        vm.assertEq(market.phase(taskId), PHASE_ENDED, "ended");
    }

    function testClaimRoundsInAnyOrderAndAnyTime() public {
        uint256[] memory v1 = amounts(100 ether, 50 ether);
        uint256[] memory v2 = amounts(180 ether, 70 ether);
        finalRound(taskId, 1, pair(alice, bob), v1);
        finalRound(taskId, 2, pair(alice, bob), v2);
        uint32[] memory rounds = new uint32[](2);
        rounds[0] = 2;
        rounds[1] = 1;
        uint256[][] memory values = new uint256[][](2);
        values[0] = v2;
        values[1] = v1;
        uint256 before = token.balanceOf(alice);
        RoundClaim[] memory claims = claimsOf(alice, rounds, values);
        vm.prank(alice);
        market.claim(taskId, claims);
        vm.assertEq(token.balanceOf(alice) - before, 280 ether, "both rounds");
    }

    function testClaimTwiceReverts() public {
        uint256[] memory v = amounts(100 ether, 50 ether);
        finalRound(taskId, 1, pair(alice, bob), v);
        claimRound(taskId, 1, alice, pair(alice, bob), v);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceAlreadyClaimed.selector, taskId, 1, alice)
        );
        claimRound(taskId, 1, alice, pair(alice, bob), v);

        // the same round twice in one transaction
        RoundClaim[] memory claims = new RoundClaim[](2);
        claims[0] = roundClaim(taskId, 1, bob, pair(alice, bob), v);
        claims[1] = claims[0];
        vm.expectRevert(abi.encodeWithSelector(MarketplaceAlreadyClaimed.selector, taskId, 1, bob));
        vm.prank(bob);
        market.claim(taskId, claims);
    }

    function testClaimRejectsBadProofs() public {
        uint256[] memory v = amounts(100 ether, 50 ether);
        finalRound(taskId, 1, pair(alice, bob), v);
        RoundClaim[] memory claims = new RoundClaim[](1);
        claims[0] = roundClaim(taskId, 1, alice, pair(alice, bob), v);

        claims[0].amount = 101 ether;
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, 1, alice, 101 ether)
        );
        vm.prank(alice);
        market.claim(taskId, claims);

        claims[0].amount = 100 ether;
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, 1, bob, 100 ether)
        );
        vm.prank(bob); // alice's leaf and proof, bob's address
        market.claim(taskId, claims);

        claims[0].proof[0] = bytes32(uint256(claims[0].proof[0]) ^ 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, 1, alice, 100 ether)
        );
        vm.prank(alice);
        market.claim(taskId, claims);
    }

    function testClaimPaysRevealersOnly() public {
        address mallory = makeAddr("mallory");
        join(taskId, carol);
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        commit(taskId, 1, carol); // commits, never reveals
        toRevealWindow(taskId, 1);
        reveal(taskId, 1, alice);
        address[] memory who = new address[](3);
        who[0] = alice;
        who[1] = carol;
        who[2] = mallory;
        uint256[] memory v = new uint256[](3);
        v[0] = 100 ether;
        v[1] = 100 ether;
        v[2] = 100 ether;
        toSettleWindow(taskId, 1);
        settle(taskId, 1, rootOf(taskId, 1, who, v), 300 ether);
        afterChallengeWindow(taskId, 1);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotRevealer.selector, taskId, 1, carol));
        claimRound(taskId, 1, carol, who, v);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotRevealer.selector, taskId, 1, mallory));
        claimRound(taskId, 1, mallory, who, v);
        claimRound(taskId, 1, alice, who, v);
    }

    function testClaimNonFinalRoundReverts() public {
        uint256[] memory v = amounts(1, 1);
        runRound(taskId, 1, pair(alice, bob), rootOf(taskId, 1, pair(alice, bob), v), 2);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoundNotFinal.selector, taskId, 1));
        claimRound(taskId, 1, alice, pair(alice, bob), v);

        challengeAs(taskId, 1, carol);
        toEvidenceWindow(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoundNotFinal.selector, taskId, 1));
        claimRound(taskId, 1, alice, pair(alice, bob), v);

        RoundClaim[] memory claims = new RoundClaim[](1);
        claims[0].round = 2;
        claims[0].amount = 1;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoundNotFinal.selector, taskId, 2));
        vm.prank(alice);
        market.claim(taskId, claims);
    }

    function testClaimCannotExceedRoundTotal() public {
        // A bad root promising more than the settlement's totalPaid.
        uint256[] memory v = amounts(400 ether, 400 ether);
        runRound(taskId, 1, pair(alice, bob), rootOf(taskId, 1, pair(alice, bob), v), 500 ether);
        afterChallengeWindow(taskId, 1);
        claimRound(taskId, 1, alice, pair(alice, bob), v);
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceClaimExceedsRoundTotal.selector, taskId, 1, 800 ether, 500 ether
            )
        );
        claimRound(taskId, 1, bob, pair(alice, bob), v);
    }

    function testLaterRoundCannotTouchEarlierRound() public {
        uint256[] memory v1 = amounts(100 ether, 50 ether);
        finalRound(taskId, 1, pair(alice, bob), v1);
        // round 2's tree re-lists round 1's amounts and more: it only pays round 2's leaves
        uint256[] memory v2 = amounts(900 ether, 100 ether);
        finalRound(taskId, 2, pair(alice, bob), v2);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, 1, alice, 900 ether)
        );
        RoundClaim[] memory claims = new RoundClaim[](1);
        claims[0] = roundClaim(taskId, 2, alice, pair(alice, bob), v2);
        claims[0].round = 1;
        vm.prank(alice);
        market.claim(taskId, claims);

        claimRound(taskId, 1, alice, pair(alice, bob), v1);
        claimRound(taskId, 2, alice, pair(alice, bob), v2);
        vm.assertEq(market.getRound(taskId, 1).totalClaimed, 100 ether, "round 1");
        vm.assertEq(market.getRound(taskId, 2).totalClaimed, 900 ether, "round 2");
    }

    function testClaimNothingReverts() public {
        finalRound(taskId, 1, pair(alice, bob), amounts(10, 0));
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceNothingToClaim.selector, taskId, 0, alice)
        );
        vm.prank(alice);
        market.claim(taskId, new RoundClaim[](0));

        RoundClaim[] memory claims = new RoundClaim[](1);
        claims[0].round = 1;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNothingToClaim.selector, taskId, 1, bob));
        vm.prank(bob);
        market.claim(taskId, claims);
    }

    function testSingleLeafTree() public {
        join(taskId, carol);
        runRound(taskId, 1, single(carol), rootOf(taskId, 1, single(carol), one(7 ether)), 7 ether);
        afterChallengeWindow(taskId, 1);
        // A one-account tree: the root is the leaf and the proof is empty.
        bytes32[] memory proof = proofOf(taskId, 1, single(carol), one(7 ether), carol);
        vm.assertEq(proof.length, 0, "empty proof");
        vm.assertEq(
            market.getRound(taskId, 1).payoutRoot,
            keccak256(bytes.concat(keccak256(abi.encode(taskId, uint32(1), carol, 7 ether)))),
            "leaf"
        );
        claimRound(taskId, 1, carol, single(carol), one(7 ether));
        vm.assertTrue(claimed(taskId, 1, carol), "claimed");
    }

    function testClaimWindowThenRefundOfUnclaimed() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        uint256 other = createTask(p);
        join(other, alice);
        join(other, bob);
        uint256[] memory v = amounts(600 ether, 400 ether);
        runRound(other, 1, pair(alice, bob), rootOf(other, 1, pair(alice, bob), v), BUDGET);
        afterChallengeWindow(other, 1);
        market.finalize(other);
        uint64 deadline = market.getTask(other).claimDeadline;
        vm.assertEq(deadline, market.getRound(other, 1).finalAt + CLAIM_WINDOW, "deadline");

        // claims open until the deadline; alice claims, bob does not
        vm.warp(deadline);
        RoundClaim[] memory claims = new RoundClaim[](1);
        claims[0] = roundClaim(other, 1, alice, pair(alice, bob), v);
        vm.prank(alice);
        market.claim(other, claims);

        // before the deadline the requester cannot take allocations (here: all of the budget)
        vm.prank(requester);
        market.publishValidation(other, VALIDATION_CID);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNothingToRefund.selector, other));
        vm.prank(requester);
        market.refund(other);

        vm.warp(deadline + 1);
        claims[0] = roundClaim(other, 1, bob, pair(alice, bob), v);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceClaimsClosed.selector, other, deadline));
        vm.prank(bob);
        market.claim(other, claims);

        uint256 before = token.balanceOf(requester);
        vm.expectEmit();
        emit BudgetRefunded(other, requester, 400 ether);
        vm.prank(requester);
        market.refund(other);
        vm.assertEq(token.balanceOf(requester) - before, 400 ether, "unclaimed allocation");
    }

    function testClaimDeadlineCountsFromTheEffectiveEnd() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        uint256 other = createTask(p);
        join(other, alice);
        uint256[] memory v = one(BUDGET);
        runRound(other, 1, single(alice), rootOf(other, 1, single(alice), v), BUDGET);
        uint64 deadline = market.getRound(other, 1).challengeDeadline + CLAIM_WINDOW;
        // nobody finalizes: the task still ended when the challenge window closed
        vm.warp(deadline + 1);
        RoundClaim[] memory claims = new RoundClaim[](1);
        claims[0] = roundClaim(other, 1, alice, single(alice), v);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceClaimsClosed.selector, other, deadline));
        vm.prank(alice);
        market.claim(other, claims);
        vm.prank(requester);
        market.publishValidation(other, VALIDATION_CID);
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(other);
        vm.assertEq(token.balanceOf(requester) - before, BUDGET, "unclaimed: back to the requester");
    }

    function testClaimsStayOpenWhileTheTaskIsActive() public {
        uint256[] memory v = amounts(100 ether, 50 ether);
        finalRound(taskId, 1, pair(alice, bob), v);
        vm.warp(block.timestamp + 3 * uint256(CLAIM_WINDOW));
        claimRound(taskId, 1, alice, pair(alice, bob), v);
        market.windDown(taskId); // round 2 never opened
        vm.warp(block.timestamp + CLAIM_WINDOW);
        claimRound(taskId, 1, bob, pair(alice, bob), v);
    }

    /// @dev Fuzzed claims: each revealer gets exactly its leaf, rounds' claims never exceed
    /// their totals, and after the claim deadline the requester gets exactly the rest.
    function testClaimsAndRefundAddUp(uint96[6] memory raw, uint8 mask) public {
        uint256[][] memory values = new uint256[][](3);
        uint256 allocated = 0;
        for (uint32 r = 1; r <= 3; r++) {
            uint256 x = bound(raw[2 * (r - 1)], 0, BUDGET);
            uint256 y = bound(raw[2 * (r - 1) + 1], 0, BUDGET - x);
            values[r - 1] = amounts(x, y);
            allocated += x + y;
            finalRound(taskId, r, pair(alice, bob), values[r - 1]);
        }
        uint256 claimedTotal = 0;
        for (uint32 r = 1; r <= 3; r++) {
            for (uint256 i = 0; i < 2; i++) {
                address who = i == 0 ? alice : bob;
                uint256 amount = values[r - 1][i];
                if (amount == 0 || (mask >> (2 * (r - 1) + i)) & 1 == 0) continue;
                uint256 balance = token.balanceOf(who);
                claimRound(taskId, r, who, pair(alice, bob), values[r - 1]);
                vm.assertEq(token.balanceOf(who) - balance, amount, "leaf paid");
                claimedTotal += amount;
            }
            vm.assertLe(
                market.getRound(taskId, r).totalClaimed, market.getRound(taskId, r).totalPaid, "cap"
            );
        }
        vm.assertLe(claimedTotal, allocated, "claims within allocations");
        if (claimedTotal == 3 * uint256(BUDGET)) return; // nothing left to refund
        vm.warp(market.getTask(taskId).claimDeadline + 1);
        publishValidation(taskId);
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(taskId);
        vm.assertEq(
            token.balanceOf(requester) - before, 3 * uint256(BUDGET) - claimedTotal, "the rest"
        );
    }

    function testWithdrawStake() public {
        for (uint32 r = 1; r <= 3; r++) {
            finalRound(taskId, r, pair(alice, bob), amounts(0, 0));
        }
        uint256 before = token.balanceOf(alice);

        vm.expectEmit();
        emit StakeWithdrawn(taskId, alice, MIN_STAKE);
        vm.prank(alice);
        market.withdrawStake(taskId);

        vm.assertEq(token.balanceOf(alice) - before, MIN_STAKE, "stake back");
        (uint256 stake,,, bool withdrawn,) = market.participantOf(taskId, alice);
        vm.assertEq(stake, 0, "nothing held");
        vm.assertTrue(withdrawn, "withdrawn");
    }

    function testWithdrawStakeSlashesPendingCommitmentsFirst() public {
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        commit(taskId, 1, bob);
        toRevealWindow(taskId, 1);
        reveal(taskId, 1, bob);
        afterSettleDeadline(taskId, 1);
        market.windDown(taskId);
        uint256 before = token.balanceOf(alice);

        vm.expectEmit();
        emit ParticipantSlashed(taskId, 0, alice, MIN_STAKE / 10);
        vm.expectEmit();
        emit StakeWithdrawn(taskId, alice, MIN_STAKE - MIN_STAKE / 10);
        vm.prank(alice);
        market.withdrawStake(taskId);

        vm.assertEq(token.balanceOf(alice) - before, MIN_STAKE - MIN_STAKE / 10, "slashed first");
        (,, uint256 slashed,, uint256 unrevealed) = market.participantOf(taskId, alice);
        vm.assertEq(slashed, MIN_STAKE / 10, "slashed");
        vm.assertEq(unrevealed, 0, "nothing pending");
        vm.assertEq(market.getTask(taskId).totalSlashed, MIN_STAKE / 10, "owed to the requester");

        before = token.balanceOf(bob);
        vm.prank(bob);
        market.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(bob) - before, MIN_STAKE, "a revealer keeps its stake");
    }

    /// @dev k unrevealed commitments cost k * slashBps of the original stake, capped at the
    /// stake, whether slashed one by one or at withdrawal.
    function testWithdrawStakeSlashMath(uint16 bps, uint96 stake, uint8 missed, uint8 slashedEarly)
        public
    {
        bps = uint16(bound(bps, 0, 5_000));
        stake = uint96(bound(stake, MIN_STAKE, FUNDS));
        uint32 k = uint32(bound(missed, 1, 4));
        uint32 early = uint32(bound(slashedEarly, 0, k));
        TaskParams memory p = defaultParams();
        p.slashBps = bps;
        p.rounds = 4;
        uint256 other = createTask(p);
        vm.prank(carol);
        market.join(other, stake);
        for (uint32 r = 1; r <= k; r++) {
            openRound(other, r);
            commit(other, r, carol);
            toSettleWindow(other, r);
            if (r <= early && uint256(stake) * bps / 10_000 > 0 && stakeOf(other, carol) > 0) {
                market.slash(other, r, carol);
            }
            settle(other, r, bytes32(0), 0);
            afterChallengeWindow(other, r);
        }
        market.finalize(other);
        vm.warp(block.timestamp + SETTLE_WINDOW + 1);
        if (k < 4) market.windDown(other);
        uint256 before = token.balanceOf(carol);
        vm.prank(carol);
        market.withdrawStake(other);

        uint256 unit = uint256(stake) * bps / 10_000;
        uint256 expectedSlash = k * unit > stake ? stake : k * unit;
        (,, uint256 slashed,,) = market.participantOf(other, carol);
        vm.assertEq(slashed, expectedSlash, "k offences");
        vm.assertEq(token.balanceOf(carol) - before, stake - expectedSlash, "rest returned");
        vm.assertEq(market.getTask(other).totalSlashed, expectedSlash, "task total");
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

    function testTaskInfoTotals() public {
        uint256[] memory v = amounts(100 ether, 50 ether);
        finalRound(taskId, 1, pair(alice, bob), v);
        claimRound(taskId, 1, alice, pair(alice, bob), v);
        TaskInfo memory t = market.getTask(taskId);
        vm.assertEq(t.totalAllocated, 150 ether, "allocated");
        vm.assertEq(t.totalClaimed, 100 ether, "claimed");
        vm.assertEq(t.lastFinalRound, 1, "last final");
    }
}
