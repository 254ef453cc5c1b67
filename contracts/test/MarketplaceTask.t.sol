// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Marketplace} from "../src/Marketplace.sol";
import {TaskInfo, TaskParams} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice constructor, createTask, cancel, join, refund, publishValidation and the task views.
contract MarketplaceTaskTest is MarketplaceFixture {
    function testConstructor() public {
        vm.assertEq(market.minWindow(), MIN_WINDOW, "minWindow");
        vm.assertEq(address(market.token()), address(token), "token");
        vm.assertEq(market.MAX_SLASH_BPS(), 5_000, "max slash");
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "minWindow"));
        new Marketplace(IERC20(address(token)), 0);
    }

    function testCreateTask() public {
        TaskParams memory p = defaultParams();
        uint256 before = token.balanceOf(requester);

        vm.expectEmit();
        emit TaskCreated(1, requester, p);
        uint256 taskId = createTask(p);

        vm.assertEq(taskId, 1, "ids start at 1");
        vm.assertEq(market.taskCount(), 1, "count");
        vm.assertEq(before - token.balanceOf(requester), 3 * uint256(BUDGET), "escrowed");
        vm.assertEq(token.balanceOf(address(market)), 3 * uint256(BUDGET), "held");
        TaskInfo memory t = market.getTask(taskId);
        vm.assertEq(t.requester, requester, "requester");
        vm.assertEq(t.status, 1, "active");
        vm.assertEq(t.specCidHash, keccak256(bytes(SPEC_CID)), "spec hash");
        vm.assertEq(t.initialModelCidHash, keccak256(bytes(MODEL0)), "model hash");
        vm.assertEq(t.modelCidHash, keccak256(bytes(MODEL0)), "next model hash");
        vm.assertEq(t.validationSha256, p.validationSha256, "validation");
        vm.assertEq(t.escrow, 3 * uint256(BUDGET), "escrow");
        vm.assertEq(t.aggregator, aggregator, "aggregator");
        vm.assertEq(t.arbiter, arbiter, "arbiter");
        vm.assertEq(t.slashBps, 1_000, "slashBps");
        vm.assertEq(t.resolveWindow, RESOLVE_WINDOW, "resolveWindow");
        vm.assertEq(t.claimWindow, CLAIM_WINDOW, "claimWindow");
        vm.assertEq(t.createdAt, block.timestamp, "createdAt");
        vm.assertEq(t.endedAt, 0, "endedAt");
        vm.assertEq(t.openDeadline, block.timestamp + SETTLE_WINDOW, "round 1 due");
        vm.assertEq(t.claimDeadline, 0, "no claim deadline while active");
        vm.assertFalse(t.validationPublished, "validation not published");
        vm.assertFalse(t.aggregatorBondHeld, "no bond before round 1");
        vm.assertEq(market.phase(taskId), PHASE_CREATED, "phase");
    }

    function testCreateTask(uint32 rounds, uint96 budget) public {
        rounds = uint32(bound(rounds, 1, 1000));
        budget = uint96(bound(budget, 1, 1_000 ether));
        TaskParams memory p = defaultParams();
        p.rounds = rounds;
        p.roundBudget = budget;

        uint256 taskId = createTask(p);

        vm.assertEq(market.getTask(taskId).escrow, uint256(rounds) * budget, "escrow");
        vm.assertEq(token.balanceOf(address(market)), uint256(rounds) * budget, "held");
    }

    function testCreateTaskIdsIncrease() public {
        uint256 first = createDefaultTask();
        uint256 second = createDefaultTask();
        vm.assertEq(second, first + 1, "sequential ids");
    }

    function testCreateTaskRejectsBadParameters() public {
        TaskParams memory p;
        string[23] memory names = [
            "rounds",
            "rounds",
            "roundBudget",
            "minStake",
            "commitWindow",
            "revealWindow",
            "settleWindow",
            "challengeWindow",
            "resolveWindow",
            "claimWindow",
            "aggregator",
            "aggregator",
            "arbiter",
            "arbiter",
            "arbiter",
            "settleBond",
            "settleBond",
            "slashBps",
            "maxSamples",
            "initialModelCid",
            "commitWindow",
            "slashBps",
            "claimWindow"
        ];
        for (uint256 i = 0; i < names.length; i++) {
            p = defaultParams();
            if (i == 0) p.rounds = 0;
            if (i == 1) p.rounds = 1001;
            if (i == 2) p.roundBudget = 0;
            if (i == 3) p.minStake = 0;
            if (i == 4) p.commitWindow = MIN_WINDOW - 1;
            if (i == 5) p.revealWindow = 1;
            if (i == 6) p.settleWindow = 0;
            if (i == 7) p.challengeWindow = MIN_WINDOW - 1;
            if (i == 8) p.resolveWindow = 0;
            if (i == 9) p.claimWindow = MIN_WINDOW - 1;
            if (i == 10) p.aggregator = address(0);
            if (i == 11) p.aggregator = requester;
            if (i == 12) p.arbiter = address(0);
            if (i == 13) p.arbiter = requester;
            if (i == 14) p.arbiter = aggregator;
            if (i == 15) p.settleBond = 0;
            if (i == 16) p.settleBond = uint128(type(uint112).max) + 1;
            if (i == 17) p.slashBps = 5_001;
            if (i == 18) p.maxSamples = 0;
            if (i == 19) p.initialModelCid = "";
            if (i == 20) p.commitWindow = 0;
            if (i == 21) p.slashBps = 10_000;
            if (i == 22) p.claimWindow = 0;
            vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, names[i]));
            vm.prank(requester);
            market.createTask(p);
        }
    }

    function testCreateTaskAcceptsBoundaryParameters() public {
        TaskParams memory p = defaultParams();
        p.commitWindow = MIN_WINDOW;
        p.revealWindow = MIN_WINDOW;
        p.settleWindow = MIN_WINDOW;
        p.challengeWindow = MIN_WINDOW;
        p.resolveWindow = MIN_WINDOW;
        p.claimWindow = MIN_WINDOW;
        p.slashBps = 5_000;
        p.settleBond = 1;
        uint256 taskId = createTask(p);
        vm.assertEq(market.getTask(taskId).slashBps, 5_000, "max slash accepted");
    }

    function testCreateTaskRejectsWindowsBelowMinimum(uint32 window, uint8 which) public {
        window = uint32(bound(window, 0, MIN_WINDOW - 1));
        TaskParams memory p = defaultParams();
        uint256 w = which % 6;
        string[6] memory names = [
            "commitWindow",
            "revealWindow",
            "settleWindow",
            "challengeWindow",
            "resolveWindow",
            "claimWindow"
        ];
        if (w == 0) p.commitWindow = window;
        if (w == 1) p.revealWindow = window;
        if (w == 2) p.settleWindow = window;
        if (w == 3) p.challengeWindow = window;
        if (w == 4) p.resolveWindow = window;
        if (w == 5) p.claimWindow = window;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, names[w]));
        vm.prank(requester);
        market.createTask(p);
    }

    function testCreateTaskRejectsAbsurdAmounts() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1000;
        p.roundBudget = type(uint128).max;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "roundBudget"));
        vm.prank(requester);
        market.createTask(p);

        p = defaultParams();
        p.minStake = uint128(type(uint112).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(MarketplaceInvalidParameter.selector, "minStake"));
        vm.prank(requester);
        market.createTask(p);
    }

    function testCreateTaskRevertsWhenUnapproved() public {
        vm.prank(requester);
        token.approve(address(market), 0);
        TaskParams memory p = defaultParams();
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector,
                address(market),
                0,
                3 * uint256(BUDGET)
            )
        );
        vm.prank(requester);
        market.createTask(p);
    }

    function testCreateTaskRevertsWhenUnfunded() public {
        address poor = makeAddr("poor");
        fund(poor, 1 ether);
        TaskParams memory p = defaultParams();
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, poor, 1 ether, 3 * uint256(BUDGET)
            )
        );
        vm.prank(poor);
        market.createTask(p);
    }

    function testCancel() public {
        uint256 taskId = createDefaultTask();
        uint256 before = token.balanceOf(requester);

        vm.expectEmit();
        emit TaskCancelled(taskId, 3 * uint256(BUDGET));
        vm.prank(requester);
        market.cancel(taskId);

        vm.assertEq(token.balanceOf(requester) - before, 3 * uint256(BUDGET), "refunded");
        vm.assertEq(market.phase(taskId), PHASE_CANCELLED, "phase");
        TaskInfo memory t = market.getTask(taskId);
        vm.assertEq(t.totalRefunded, 3 * uint256(BUDGET), "recorded");
        vm.assertEq(t.endedAt, block.timestamp, "endedAt");
        vm.assertEq(t.claimDeadline, block.timestamp + CLAIM_WINDOW, "claim deadline");
    }

    function testCancelReverts() public {
        uint256 taskId = createDefaultTask();
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotRequester.selector, taskId, alice));
        vm.prank(alice);
        market.cancel(taskId);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceUnknownTask.selector, 99));
        vm.prank(requester);
        market.cancel(99);

        openRound(taskId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_COMMIT)
        );
        vm.prank(requester);
        market.cancel(taskId);
    }

    function testCancelTwiceReverts() public {
        uint256 taskId = createDefaultTask();
        vm.prank(requester);
        market.cancel(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 0, PHASE_CANCELLED)
        );
        vm.prank(requester);
        market.cancel(taskId);
    }

    function testJoin() public {
        uint256 taskId = createDefaultTask();
        uint256 before = token.balanceOf(alice);

        vm.expectEmit();
        emit ParticipantJoined(taskId, alice, 12 ether);
        vm.prank(alice);
        market.join(taskId, 12 ether);

        (uint256 stake, bool joined, uint256 slashed, bool withdrawn, uint256 unrevealed) =
            market.participantOf(taskId, alice);
        vm.assertEq(stake, 12 ether, "stake");
        vm.assertTrue(joined, "joined");
        vm.assertEq(slashed, 0, "slashed");
        vm.assertFalse(withdrawn, "withdrawn");
        vm.assertEq(unrevealed, 0, "unrevealed");
        vm.assertEq(before - token.balanceOf(alice), 12 ether, "pulled");
    }

    function testJoin(uint96 stake) public {
        uint256 taskId = createDefaultTask();
        stake = uint96(bound(stake, MIN_STAKE, FUNDS));
        vm.prank(alice);
        market.join(taskId, stake);
        vm.assertEq(stakeOf(taskId, alice), stake, "stake");
        vm.assertEq(token.balanceOf(address(market)), 3 * uint256(BUDGET) + stake, "held");
    }

    function testJoinReverts() public {
        uint256 taskId = createDefaultTask();
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceStakeTooLow.selector, taskId, 1, MIN_STAKE)
        );
        vm.prank(alice);
        market.join(taskId, 1);

        uint256 huge = uint256(type(uint112).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                MarketplaceStakeTooHigh.selector, taskId, huge, type(uint112).max
            )
        );
        vm.prank(alice);
        market.join(taskId, huge);

        vm.expectRevert(abi.encodeWithSelector(MarketplaceUnknownTask.selector, 7));
        vm.prank(alice);
        market.join(7, MIN_STAKE);

        join(taskId, alice);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceAlreadyJoined.selector, taskId, alice));
        vm.prank(alice);
        market.join(taskId, MIN_STAKE);
    }

    function testJoinRejectsAggregatorAndArbiter() public {
        uint256 taskId = createDefaultTask();
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceRoleConflict.selector, taskId, aggregator)
        );
        vm.prank(aggregator);
        market.join(taskId, MIN_STAKE);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceRoleConflict.selector, taskId, arbiter));
        vm.prank(arbiter);
        market.join(taskId, MIN_STAKE);
    }

    function testJoinRevertsWhenUnapproved() public {
        uint256 taskId = createDefaultTask();
        vm.prank(alice);
        token.approve(address(market), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(market), 0, MIN_STAKE
            )
        );
        vm.prank(alice);
        market.join(taskId, MIN_STAKE);
    }

    function testJoinRevertsOnCancelledTask() public {
        uint256 taskId = createDefaultTask();
        vm.prank(requester);
        market.cancel(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 0, PHASE_CANCELLED)
        );
        vm.prank(alice);
        market.join(taskId, MIN_STAKE);
    }

    function testJoinMidTask() public {
        uint256 taskId = createDefaultTask();
        openRound(taskId, 1);
        join(taskId, alice);
        (, bool joined,,,) = market.participantOf(taskId, alice);
        vm.assertTrue(joined, "joined mid-task");
    }

    function testRefundAfterCompletion() public {
        uint256 taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
        for (uint32 r = 1; r <= 3; r++) {
            uint256[] memory paid = r == 1 ? amounts(300 ether, 200 ether) : amounts(0, 0);
            finalRound(taskId, r, pair(alice, bob), paid);
        }
        publishValidation(taskId);
        uint256 before = token.balanceOf(requester);

        vm.expectEmit();
        emit BudgetRefunded(taskId, requester, 3 * uint256(BUDGET) - 500 ether);
        vm.prank(requester);
        market.refund(taskId);

        vm.assertEq(token.balanceOf(requester) - before, 3 * uint256(BUDGET) - 500 ether, "paid");
        vm.assertEq(market.phase(taskId), PHASE_ENDED, "ended");
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNothingToRefund.selector, taskId));
        vm.prank(requester);
        market.refund(taskId);
    }

    function testRefundIncludesSlashedStakeAndForfeitedBond() public {
        uint256 taskId = createDefaultTask();
        join(taskId, alice);
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        toSettleWindow(taskId, 1);
        market.slash(taskId, 1, alice);
        afterSettleDeadline(taskId, 1);
        market.windDown(taskId);
        publishValidation(taskId);
        uint256 before = token.balanceOf(requester);

        vm.prank(requester);
        market.refund(taskId);

        vm.assertEq(
            token.balanceOf(requester) - before,
            3 * uint256(BUDGET) + MIN_STAKE / 10 + BOND,
            "budget + slashed stake + forfeited bond"
        );
    }

    function testRefundNeedsPublishedValidationOnceARoundRan() public {
        uint256 taskId = createDefaultTask();
        openRound(taskId, 1);
        afterSettleDeadline(taskId, 1);
        market.windDown(taskId);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceValidationNotPublished.selector, taskId));
        vm.prank(requester);
        market.refund(taskId);

        vm.expectEmit();
        emit ValidationPublished(taskId, VALIDATION_CID);
        publishValidation(taskId);
        vm.assertTrue(market.getTask(taskId).validationPublished, "flag");
        vm.prank(requester);
        market.refund(taskId);
    }

    function testRefundWithoutRoundsNeedsNoValidation() public {
        uint256 taskId = createDefaultTask();
        vm.warp(block.timestamp + SETTLE_WINDOW + 1);
        market.windDown(taskId);
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(taskId);
        vm.assertEq(token.balanceOf(requester) - before, 3 * uint256(BUDGET), "whole budget");
    }

    function testRefundReverts() public {
        uint256 taskId = createDefaultTask();
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotRequester.selector, taskId, alice));
        vm.prank(alice);
        market.refund(taskId);

        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 0, PHASE_CREATED)
        );
        vm.prank(requester);
        market.refund(taskId);

        vm.prank(requester);
        market.cancel(taskId);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNothingToRefund.selector, taskId));
        vm.prank(requester);
        market.refund(taskId);
    }

    function testPublishValidation() public {
        uint256 taskId = createDefaultTask();
        vm.expectEmit();
        emit ValidationPublished(taskId, "bafkreivalidation");
        vm.prank(requester);
        market.publishValidation(taskId, "bafkreivalidation");
        vm.assertTrue(market.getTask(taskId).validationPublished, "flag");
    }

    function testPublishValidationReverts() public {
        uint256 taskId = createDefaultTask();
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotRequester.selector, taskId, alice));
        vm.prank(alice);
        market.publishValidation(taskId, "x");
        vm.expectRevert(abi.encodeWithSelector(MarketplaceUnknownTask.selector, 5));
        vm.prank(requester);
        market.publishValidation(5, "x");
    }

    function testViewsOfUnknownTask() public view {
        vm.assertEq(market.phase(42), PHASE_NONE, "phase");
        vm.assertEq(market.getTask(42).status, 0, "status");
        vm.assertEq(market.getTask(42).claimDeadline, 0, "no deadline");
        vm.assertEq(market.getRound(42, 1).status, 0, "round");
    }
}
