// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {Marketplace} from "../src/Marketplace.sol";
import {RoundClaim, TaskParams} from "../src/MarketplaceTypes.sol";
import {MarketplaceFixture} from "./utils/MarketplaceFixture.sol";

/// @notice A token that calls back into the marketplace on every transfer it sends.
contract ReentrantToken is ERC20 {
    Marketplace public target;
    bytes public payload;
    bool public armed;
    bytes public lastRevert;

    constructor() ERC20("Reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(Marketplace target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && from == address(target)) {
            armed = false;
            (bool ok, bytes memory data) = address(target).call(payload);
            require(!ok, "re-entry succeeded");
            lastRevert = data;
        }
    }
}

/// @notice Unknown tasks, lazy finalization on the finish paths and re-entrancy.
contract MarketplaceEdgesTest is MarketplaceFixture {
    function testEveryCallOnAnUnknownTaskReverts() public {
        bytes memory unknown = abi.encodeWithSelector(MarketplaceUnknownTask.selector, 99);
        RoundClaim[] memory claims = new RoundClaim[](1);
        vm.startPrank(alice);
        vm.expectRevert(unknown);
        market.join(99, MIN_STAKE);
        vm.expectRevert(unknown);
        market.openRound(99, MODEL0);
        vm.expectRevert(unknown);
        market.commit(99, bytes32(uint256(1)));
        vm.expectRevert(unknown);
        market.reveal(99, "c", 0, 1, 0);
        vm.expectRevert(unknown);
        market.challenge(99, 1, bytes32(uint256(1)));
        vm.expectRevert(unknown);
        market.revealEvidence(99, 1, "e", 0);
        vm.expectRevert(unknown);
        market.reject(99, 1);
        vm.expectRevert(unknown);
        market.uphold(99, 1, "m", "r", 0, 0);
        vm.expectRevert(unknown);
        market.collectChallenge(99, 1);
        vm.expectRevert(unknown);
        market.finalize(99);
        vm.expectRevert(unknown);
        market.slash(99, 1, bob);
        vm.expectRevert(unknown);
        market.windDown(99);
        vm.expectRevert(unknown);
        market.claim(99, claims);
        vm.expectRevert(unknown);
        market.withdrawStake(99);
        vm.expectRevert(unknown);
        market.refund(99);
        vm.expectRevert(unknown);
        market.cancel(99);
        vm.expectRevert(unknown);
        market.publishValidation(99, "v");
        vm.expectRevert(abi.encodeWithSelector(MarketplaceNotAggregator.selector, 99, alice));
        market.settle(99, "m", "r", 0, 0);
        vm.stopPrank();
    }

    function testFinishPathsFinalizeLazily() public {
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        uint256 taskId = createTask(p);
        join(taskId, alice);
        runRound(taskId, 1, single(alice), bytes32(0), 100 ether);
        afterChallengeWindow(taskId, 1);
        vm.assertEq(market.phase(taskId), PHASE_ENDED, "effectively ended");
        vm.expectRevert(
            abi.encodeWithSelector(MarketplaceWrongPhase.selector, taskId, 1, PHASE_ENDED)
        );
        vm.prank(bob);
        market.join(taskId, MIN_STAKE);
        publishValidation(taskId);
        uint256 before = token.balanceOf(requester);

        vm.prank(requester);
        market.refund(taskId); // finalizes round 1, ends the task, then refunds

        vm.assertEq(token.balanceOf(requester) - before, BUDGET - 100 ether, "unallocated part");
        vm.assertEq(market.getTask(taskId).status, 2, "ended in storage");
        vm.assertEq(market.credits(aggregator), BOND, "bond returned at the end");
        vm.prank(alice);
        market.withdrawStake(taskId);
    }

    function testClaimCannotBeReentered() public {
        ReentrantToken evil = new ReentrantToken();
        Marketplace m = new Marketplace(IERC20(address(evil)), MIN_WINDOW);
        TaskParams memory p = defaultParams();
        p.rounds = 1;
        evil.mint(requester, BUDGET);
        evil.mint(aggregator, BOND);
        evil.mint(alice, MIN_STAKE);
        vm.prank(requester);
        evil.approve(address(m), type(uint256).max);
        vm.prank(aggregator);
        evil.approve(address(m), type(uint256).max);
        vm.prank(alice);
        evil.approve(address(m), type(uint256).max);
        vm.prank(requester);
        uint256 taskId = m.createTask(p);
        vm.prank(alice);
        m.join(taskId, MIN_STAKE);
        vm.prank(aggregator);
        m.openRound(taskId, MODEL0);
        bytes32 c = m.commitmentFor(taskId, 1, "u", 0, 1, alice, 0);
        vm.prank(alice);
        m.commit(taskId, c);
        vm.warp(block.timestamp + COMMIT_WINDOW + 1);
        vm.prank(alice);
        m.reveal(taskId, "u", 0, 1, 0);
        vm.warp(block.timestamp + REVEAL_WINDOW);
        bytes32 root = rootOf(taskId, 1, single(alice), one(10 ether));
        vm.prank(aggregator);
        m.settle(taskId, "m1", "r", root, 10 ether);
        vm.warp(block.timestamp + CHALLENGE_WINDOW + 1);
        RoundClaim[] memory claims = new RoundClaim[](1);
        claims[0].round = 1;
        claims[0].amount = 10 ether;
        evil.arm(m, abi.encodeCall(Marketplace.claim, (taskId, claims)));

        vm.prank(alice);
        m.claim(taskId, claims);

        vm.assertEq(
            keccak256(evil.lastRevert()),
            keccak256(
                abi.encodeWithSelector(ReentrancyGuard.ReentrancyGuardReentrantCall.selector)
            ),
            "re-entry blocked by the guard"
        );
        vm.assertEq(evil.balanceOf(alice), 10 ether, "paid once");
    }
}
