// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskParams} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice Issue 10's adversarial review: each test performs one attack on the contract and
/// asserts that it fails (a revert with the named error, or the victim still paid in full).
/// The same attacks succeeded against the previous contract (see this file's history: commit
/// "reproduce issue 10's twelve attacks").
contract MarketplaceAttacksTest is MarketplaceFixture {
    uint256 internal taskId;
    address internal mallory;

    function setUp() public override {
        super.setUp();
        mallory = makeAddr("mallory");
        fund(mallory, FUNDS);
        taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
    }

    /// @dev The aggregator never opens round 1 (and the requester does not cancel), or stops
    /// between rounds: anyone winds the task down after the deadline; stakes come back, the
    /// final round stays claimable, the budget and the aggregator's bond go to the requester.
    function test_Scenario01_SilentAggregatorCannotLockFunds() public {
        // never opens round 1
        vm.warp(market.getTask(taskId).openDeadline + 1);
        vm.prank(outsider);
        market.windDown(taskId);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        market.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(alice) - before, MIN_STAKE, "stake unlocked");
        before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(taskId);
        vm.assertEq(token.balanceOf(requester) - before, 3 * uint256(BUDGET), "budget unlocked");

        // stops between rounds
        uint256 other = createDefaultTask();
        join(other, carol);
        uint256[] memory v = one(BUDGET);
        runRound(other, 1, single(carol), rootOf(other, 1, single(carol), v), BUDGET);
        afterChallengeWindow(other, 1);
        market.finalize(other);
        vm.warp(market.getTask(other).openDeadline + 1);
        vm.prank(outsider);
        market.windDown(other);
        before = token.balanceOf(carol);
        claimRound(other, 1, carol, single(carol), v);
        vm.prank(carol);
        market.withdrawStake(other);
        vm.assertEq(token.balanceOf(carol) - before, BUDGET + MIN_STAKE, "reward + stake");
        publishValidation(other);
        before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(other);
        vm.assertEq(
            token.balanceOf(requester) - before,
            2 * uint256(BUDGET) + BOND,
            "unused budget + the silent aggregator's bond"
        );
    }

    /// @dev A free challenge is impossible (bond > 0), and a challenge the arbiter ignores
    /// cannot freeze the task: the settlement stands after the ruling deadline.
    function test_Scenario02_ChallengeCannotFreezeTask() public {
        TaskParams memory p = defaultParams();
        p.settleBond = 0;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "settleBond"));
        vm.prank(requester);
        market.createTask(p);

        uint256[] memory v = amounts(600 ether, 400 ether);
        runRound(taskId, 1, pair(alice, bob), rootOf(taskId, 1, pair(alice, bob), v), BUDGET);
        disputeRound(taskId, 1, single(outsider));
        afterResolveDeadline(taskId, 1); // the arbiter stays silent
        uint256 before = token.balanceOf(alice);
        claimRound(taskId, 1, alice, pair(alice, bob), v);
        vm.assertEq(token.balanceOf(alice) - before, 600 ether, "honest work paid");
        openRound(taskId, 2); // the task goes on
    }

    /// @dev A later root cannot take an earlier final round's reward nor pay a non-revealer,
    /// nor pay more than its round's budget.
    function test_Scenario03_LaterRootCannotRewriteHistory() public {
        uint256[] memory v1 = amounts(300 ether, 0);
        finalRound(taskId, 1, pair(alice, bob), v1);
        // round 2's root pays 1,150 to mallory (never joined) and to bob (a revealer)
        uint256[] memory v2 = amounts(1_150 ether, 1_150 ether);
        address[] memory payees = pair(mallory, bob);
        runRound(taskId, 2, pair(alice, bob), rootOf(taskId, 2, payees, v2), BUDGET);
        afterChallengeWindow(taskId, 2);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotRevealer.selector, taskId, 2, mallory));
        claimRound(taskId, 2, mallory, payees, v2);
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceClaimExceedsRoundTotal.selector, taskId, 2, 1_150 ether, BUDGET
            )
        );
        claimRound(taskId, 2, bob, payees, v2);

        uint256 before = token.balanceOf(alice);
        claimRound(taskId, 1, alice, pair(alice, bob), v1);
        vm.assertEq(token.balanceOf(alice) - before, 300 ether, "round 1 untouched");
    }

    /// @dev The requester cannot judge: an arbiter distinct from it is required, and only the
    /// arbiter rules; a challenge from the requester's sock puppet ends with workers paid.
    function test_Scenario04_RequesterCannotJudgeItself() public {
        TaskParams memory p = defaultParams();
        p.arbiter = address(0);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "arbiter"));
        vm.prank(requester);
        market.createTask(p);
        p.arbiter = requester;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "arbiter"));
        vm.prank(requester);
        market.createTask(p);

        uint256[] memory v = amounts(500 ether, 500 ether);
        runRound(taskId, 1, pair(alice, bob), rootOf(taskId, 1, pair(alice, bob), v), BUDGET);
        address sock = makeAddr("requester-sock");
        fund(sock, BOND);
        disputeRound(taskId, 1, single(sock));
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotArbiter.selector, taskId, requester));
        vm.prank(requester);
        market.uphold(taskId, 1, "m", "r", bytes32(0), 0);
        vm.prank(arbiter);
        market.reject(taskId, 1);

        claimRound(taskId, 1, alice, pair(alice, bob), v);
        claimRound(taskId, 1, bob, pair(alice, bob), v);
        vm.assertEq(market.getRound(taskId, 1).totalClaimed, BUDGET, "workers paid in full");
        vm.assertEq(market.credits(aggregator), BOND, "the sock's bond went to the aggregator");
    }

    /// @dev An upheld challenge of an underpaying settlement pays the workers, not the
    /// requester: the arbiter's corrected settlement replaces it.
    function test_Scenario05_UpheldUnderpaymentPaysWorkers() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0); // pays nobody
        disputeRound(taskId, 1, single(alice));
        uint256[] memory v = amounts(550 ether, 450 ether);
        upholdWith(taskId, 1, rootOf(taskId, 1, pair(alice, bob), v), BUDGET);

        uint256 beforeAlice = token.balanceOf(alice);
        uint256 beforeBob = token.balanceOf(bob);
        claimRound(taskId, 1, alice, pair(alice, bob), v);
        claimRound(taskId, 1, bob, pair(alice, bob), v);
        vm.assertEq(token.balanceOf(alice) - beforeAlice, 550 ether, "alice paid");
        vm.assertEq(token.balanceOf(bob) - beforeBob, 450 ether, "bob paid");
        vm.assertEq(market.getTask(taskId).totalAllocated, BUDGET, "the budget is allocated");
    }

    /// @dev Allocations nobody can claim are refunded once the claim window closes; then the
    /// contract holds nothing for the task.
    function test_Scenario06_UnclaimableAllocationIsRefunded() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        uint256 other = createTask(p);
        runRound(other, 1, new address[](0), keccak256("nobody"), BUDGET);
        afterChallengeWindow(other, 1);
        market.finalize(other);
        publishValidation(other);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNothingToRefund.selector, other));
        vm.prank(requester);
        market.refund(other);

        vm.warp(market.getTask(other).claimDeadline + 1);
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(other);
        vm.assertEq(token.balanceOf(requester) - before, BUDGET, "unclaimed allocation back");
        vm.prank(aggregator);
        market.withdrawCredit();
        // the default task (alice, bob staked) is the only other money in the contract
        vm.assertEq(
            token.balanceOf(address(market)), 3 * uint256(BUDGET) + 2 * MIN_STAKE, "nothing left"
        );
    }

    /// @dev The aggregator's puppet challenges first with junk: honest challengers can still
    /// challenge; upheld, the bad root is replaced and the aggregator loses its bond (net of
    /// the puppet's share).
    function test_Scenario07_SockPuppetCannotPreemptChallenges() public {
        uint256[] memory bad = amounts(0, 1_000 ether);
        runRound(taskId, 1, pair(alice, bob), rootOf(taskId, 1, pair(alice, bob), bad), BUDGET);
        address puppet = makeAddr("puppet");
        fund(puppet, BOND);
        challengeAs(taskId, 1, puppet);
        challengeAs(taskId, 1, alice); // not pre-empted
        toEvidenceWindow(taskId, 1);
        revealEvidenceAs(taskId, 1, puppet);
        revealEvidenceAs(taskId, 1, alice);
        toRulingWindow(taskId, 1);
        uint256[] memory good = amounts(500 ether, 500 ether);
        upholdWith(taskId, 1, rootOf(taskId, 1, pair(alice, bob), good), BUDGET);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidProof.selector, taskId, 1, bob, 1_000 ether)
        );
        claimRound(taskId, 1, bob, pair(alice, bob), bad);
        claimRound(taskId, 1, alice, pair(alice, bob), good);
        vm.prank(puppet);
        market.collectChallenge(taskId, 1);
        // aggregator + puppet together: posted 2 bonds, got back 1.5
        vm.assertEq(token.balanceOf(puppet), BOND + BOND / 2, "puppet: its bond + half");
        vm.assertEq(market.credits(aggregator), 0, "aggregator: nothing back");
    }

    /// @dev Windows shorter than the marketplace minimum and slashing above 50 % are refused.
    function test_Scenario08_TrapParametersRejected() public {
        TaskParams memory p = defaultParams();
        p.revealWindow = 1;
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "revealWindow")
        );
        vm.prank(requester);
        market.createTask(p);
        p = defaultParams();
        p.slashBps = 10_000;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "slashBps"));
        vm.prank(requester);
        market.createTask(p);
    }

    /// @dev The aggregator cannot be the arbiter, nor join or challenge its own task.
    function test_Scenario09_RolesDoNotOverlap() public {
        TaskParams memory p = defaultParams();
        p.arbiter = aggregator;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "arbiter"));
        vm.prank(requester);
        market.createTask(p);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceRoleConflict.selector, taskId, aggregator)
        );
        vm.prank(aggregator);
        market.join(taskId, MIN_STAKE);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoleConflict.selector, taskId, arbiter));
        vm.prank(arbiter);
        market.join(taskId, MIN_STAKE);
        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoleConflict.selector, taskId, arbiter));
        challengeAs(taskId, 1, arbiter);
    }

    /// @dev Copying a challenger's commitment from the mempool does not let the copier reveal
    /// it, and the evidence CID only becomes public after new challenges closed: the honest
    /// challenger takes the whole bounty.
    function test_Scenario10_BountyCannotBeFrontRun() public {
        runRound(taskId, 1, pair(alice, bob), keccak256("bad root"), BUDGET);
        bytes32 c = market.evidenceCommitmentFor(
            taskId, 1, evidenceCid(carol), carol, evidenceSalt(carol, 1)
        );
        vm.prank(outsider); // lands first with carol's commitment
        market.challenge(taskId, 1, c);
        vm.prank(carol);
        market.challenge(taskId, 1, c);
        toEvidenceWindow(taskId, 1);
        revealEvidenceAs(taskId, 1, carol);
        // the copier sees carol's CID and salt now, but cannot open the commitment as itself
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceEvidenceMismatch.selector, taskId, 1, outsider)
        );
        vm.prank(outsider);
        market.revealEvidence(taskId, 1, evidenceCid(carol), evidenceSalt(carol, 1));
        // nor post a fresh commitment of it
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceTooLate.selector, taskId, 1, market.getRound(taskId, 1).challengeDeadline
            )
        );
        challengeAs(taskId, 1, mallory);
        toRulingWindow(taskId, 1);
        upholdWith(taskId, 1, bytes32(0), 0);

        uint256 before = token.balanceOf(carol);
        vm.prank(carol);
        market.collectChallenge(taskId, 1);
        vm.assertEq(token.balanceOf(carol) - before, 2 * uint256(BOND), "carol: whole bounty");
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceNothingToCollect.selector, taskId, 1, outsider)
        );
        vm.prank(outsider);
        market.collectChallenge(taskId, 1);
    }

    /// @dev Winding down and withdrawing in one block does not escape the slash.
    function test_Scenario11_NoSlashEscape() public {
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        afterSettleDeadline(taskId, 1);
        market.windDown(taskId);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        market.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(alice) - before, MIN_STAKE - MIN_STAKE / 10, "slashed");
        vm.assertEq(market.getTask(taskId).totalSlashed, MIN_STAKE / 10, "to the requester");
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceStakeAlreadyWithdrawn.selector, taskId, alice)
        );
        market.slash(taskId, 1, alice);
    }

    /// @dev No final refund before the validation set is published.
    function test_Scenario12_NoRefundWithoutAudit() public {
        for (uint32 r = 1; r <= 3; r++) {
            runRound(taskId, r, pair(alice, bob), bytes32(0), 0);
            afterChallengeWindow(taskId, r);
        }
        vm.expectRevert(abi.encodeWithSelector(MarketplaceValidationNotPublished.selector, taskId));
        vm.prank(requester);
        market.refund(taskId);

        publishValidation(taskId);
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(taskId);
        vm.assertEq(token.balanceOf(requester) - before, 3 * uint256(BUDGET), "after the audit");
    }
}
