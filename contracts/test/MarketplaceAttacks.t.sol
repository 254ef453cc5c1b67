// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskParams} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice Issue 10's adversarial review, reproduced against the CURRENT contract: every test
/// here passes because the attack SUCCEEDS. (Replaced by tests asserting the attacks fail once
/// the contract is fixed.)
contract MarketplaceAttacksOnOldContractTest is MarketplaceFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = createDefaultTask();
        join(taskId, alice);
        join(taskId, bob);
    }

    function test_Scenario01_SilentAggregatorLocksStakes() public {
        // never opens round 1; the requester does not cancel
        vm.warp(block.timestamp + 365 days);
        vm.expectRevert();
        market.windDown(taskId);
        vm.expectRevert();
        vm.prank(alice);
        market.withdrawStake(taskId);
        // between rounds: round 1 final, round 2 never opened
        uint256 other = createDefaultTask();
        join(other, carol);
        runRound(other, 1, single(carol), bytes32(0), 0);
        vm.warp(block.timestamp + 365 days);
        vm.expectRevert();
        market.windDown(other);
        vm.expectRevert();
        vm.prank(carol);
        market.withdrawStake(other);
        vm.expectRevert();
        vm.prank(requester);
        market.refund(other);
    }

    function test_Scenario02_FreeChallengeFreezesTask() public {
        TaskParams memory p = defaultParams();
        p.settleBond = 0;
        uint256 other = createTask(p);
        join(other, carol);
        runRound(other, 1, single(carol), bytes32(0), 0);
        vm.prank(outsider);
        market.challenge(other, 1, "junk");
        vm.warp(block.timestamp + 365 days);
        vm.expectRevert();
        market.finalize(other);
        vm.expectRevert();
        market.windDown(other);
        vm.expectRevert();
        vm.prank(carol);
        market.withdrawStake(other);
    }

    function test_Scenario03_LaterRootRewritesHistory() public {
        address mallory = makeAddr("mallory");
        bytes32 root1 = rootOf(single(alice), _one(300 ether));
        runRound(taskId, 1, pair(alice, bob), root1, 300 ether);
        afterChallengeWindow(taskId, 1);
        // round 2's cumulative root drops alice and pays a never-joined address 1,150
        bytes32 root2 = rootOf(single(mallory), _one(1_150 ether));
        runRound(taskId, 2, pair(alice, bob), root2, BUDGET);
        afterChallengeWindow(taskId, 2);
        vm.prank(mallory);
        market.claim(taskId, 1_150 ether, new bytes32[](0));
        vm.assertEq(token.balanceOf(mallory), 1_150 ether, "outsider paid over a round budget");
        vm.expectRevert();
        vm.prank(alice);
        market.claim(taskId, 300 ether, new bytes32[](0));
    }

    function test_Scenario04_RequesterJudgesItself() public {
        TaskParams memory p = defaultParams();
        p.arbiter = address(0);
        uint256 other = createTask(p);
        join(other, carol);
        runRound(other, 1, single(carol), rootOf(single(carol), _one(BUDGET)), BUDGET);
        address sock = makeAddr("requester-sock");
        fund(sock, BOND);
        vm.prank(sock);
        market.challenge(other, 1, "junk");
        vm.prank(requester);
        market.resolve(other, 1, true);
        vm.assertEq(market.credits(sock), 2 * uint256(BOND), "sock takes both bonds");
        vm.assertEq(market.getRound(other, 1).status, 5, "honest work voided");
    }

    function test_Scenario05_UnderpaymentUpheldStillPaysZero() public {
        runRound(taskId, 1, pair(alice, bob), bytes32(0), 0);
        vm.prank(alice);
        market.challenge(taskId, 1, "underpaid");
        vm.prank(arbiter);
        market.resolve(taskId, 1, true);
        vm.assertEq(market.getRound(taskId, 1).status, 5, "voided: workers get nothing");
    }

    function test_Scenario06_UnclaimableAllocationLocked() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        uint256 other = createTask(p);
        runRound(other, 1, new address[](0), keccak256("nobody"), BUDGET);
        afterChallengeWindow(other, 1);
        market.finalize(other);
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNothingToRefund.selector, other));
        vm.prank(requester);
        market.refund(other);
    }

    function test_Scenario07_SockPuppetPreemptsChallenge() public {
        runRound(taskId, 1, pair(alice, bob), keccak256("bad root"), BUDGET);
        address puppet = makeAddr("puppet");
        fund(puppet, BOND);
        vm.prank(puppet);
        market.challenge(taskId, 1, "junk");
        vm.expectRevert();
        vm.prank(alice);
        market.challenge(taskId, 1, "real evidence");
        vm.prank(arbiter);
        market.resolve(taskId, 1, false);
        vm.assertEq(market.getRound(taskId, 1).status, 4, "bad root final");
    }

    function test_Scenario08_TrapParametersAccepted() public {
        TaskParams memory p = defaultParams();
        p.revealWindow = 1;
        p.slashBps = 10_000;
        createTask(p);
    }

    function test_Scenario09_OverlappingRoles() public {
        TaskParams memory p = defaultParams();
        p.arbiter = aggregator;
        uint256 other = createTask(p);
        join(other, aggregator);
    }

    function test_Scenario10_BountyFrontRun() public {
        runRound(taskId, 1, pair(alice, bob), keccak256("bad root"), BUDGET);
        // outsider copies alice's evidence CID from the mempool and lands first
        vm.prank(outsider);
        market.challenge(taskId, 1, "alice's evidence");
        vm.expectRevert();
        vm.prank(alice);
        market.challenge(taskId, 1, "alice's evidence");
        vm.prank(arbiter);
        market.resolve(taskId, 1, true);
        vm.assertEq(market.credits(outsider), 2 * uint256(BOND), "copier takes the bounty");
    }

    function test_Scenario11_SlashEscape() public {
        openRound(taskId, 1);
        commit(taskId, 1, alice);
        vm.warp(market.getRound(taskId, 1).settleDeadline + 1);
        market.windDown(taskId);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        market.withdrawStake(taskId);
        vm.assertEq(token.balanceOf(alice) - before, MIN_STAKE, "whole stake kept");
    }

    function test_Scenario12_RefundWithoutAudit() public {
        for (uint32 r = 1; r <= 3; r++) {
            runRound(taskId, r, pair(alice, bob), bytes32(0), 0);
            afterChallengeWindow(taskId, r);
        }
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.refund(taskId); // the validation set was never published
        vm.assertEq(token.balanceOf(requester) - before, 3 * uint256(BUDGET), "full refund");
    }

    function _one(uint256 v) internal pure returns (uint256[] memory list) {
        list = new uint256[](1);
        list[0] = v;
    }
}
