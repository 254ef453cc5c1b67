// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Marketplace} from "../../src/Marketplace.sol";
import {RoundInfo, TaskInfo} from "../../src/MarketplaceTypes.sol";
import {RewardToken} from "../../src/RewardToken.sol";
import {TestBase} from "../utils/TestBase.sol";
import {MarketplaceHandler} from "./MarketplaceHandler.sol";

/// @notice Properties that hold after any sequence of handler actions.
contract MarketplaceInvariantTest is TestBase {
    uint8 internal constant SETTLED = 2;
    uint8 internal constant CHALLENGED = 3;
    uint8 internal constant FINAL = 4;

    RewardToken internal token;
    Marketplace internal market;
    MarketplaceHandler internal handler;
    uint256 internal taskId;

    function setUp() public {
        vm.warp(1_700_000_000);
        handler = new MarketplaceHandler();
        token = handler.token();
        market = handler.market();
        taskId = handler.taskId();
    }

    /// @dev Foundry calls only the handler's actions.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Tokens are conserved: every minted token is held by an actor or the marketplace.
    function invariant_tokensConserved() public view {
        address[] memory actors = handler.actors();
        uint256 sum = token.balanceOf(address(market));
        for (uint256 i = 0; i < actors.length; i++) {
            sum += token.balanceOf(actors[i]);
        }
        vm.assertEq(sum, token.totalSupply(), "sum of balances == minted");
    }

    /// @notice The marketplace holds exactly what came in minus what went out.
    function invariant_marketBalanceMatchesBooks() public view {
        TaskInfo memory t = market.getTask(taskId);
        uint256 inflow = t.escrow + handler.ghostStaked() + handler.ghostBondsPosted();
        uint256 outflow = t.totalRefunded + handler.ghostClaimedPaid()
            + handler.ghostStakeWithdrawn() + handler.ghostCreditsWithdrawn();
        vm.assertEq(token.balanceOf(address(market)), inflow - outflow, "balance == books");
        vm.assertEq(t.totalClaimed, handler.ghostClaimedPaid(), "claims recorded as paid");
    }

    /// @notice Nobody is paid twice: what an account claimed never exceeds its cumulative
    /// entitlement in a final settlement, and matches what it received.
    function invariant_nobodyPaidTwice() public view {
        address[4] memory ps = handler.participants();
        for (uint256 i = 0; i < ps.length; i++) {
            uint256 got = market.claimed(taskId, ps[i]);
            vm.assertEq(got, handler.ghostClaimPaidTo(ps[i]), "claimed == received");
            vm.assertLe(got, handler.maxFinalEntitlement(ps[i]), "claimed <= entitlement");
        }
    }

    /// @notice No round pays more than its budget; only final settlements are allocated, and
    /// claims never exceed allocations.
    function invariant_roundsWithinBudget() public view {
        TaskInfo memory t = market.getTask(taskId);
        uint256 allocated = 0;
        for (uint32 r = 1; r <= t.lastRound; r++) {
            RoundInfo memory rd = market.getRound(taskId, r);
            vm.assertLe(rd.totalPaid, t.roundBudget, "round within budget");
            if (rd.status == FINAL) allocated += rd.totalPaid;
        }
        vm.assertEq(t.totalAllocated, allocated, "allocated == sum of final rounds");
        vm.assertLe(t.totalClaimed, t.totalAllocated, "claimed <= allocated");
        vm.assertLe(t.totalAllocated, t.escrow, "allocated <= escrow");
    }

    /// @notice Every stake is returned or slashed exactly once: staked == withdrawn + slashed +
    /// held, per participant.
    function invariant_stakesAccounted() public view {
        address[4] memory ps = handler.participants();
        uint256 slashedSum = 0;
        for (uint256 i = 0; i < ps.length; i++) {
            (uint256 held,, uint256 slashed, bool withdrawn) = market.participantOf(taskId, ps[i]);
            vm.assertEq(
                handler.ghostStakedBy(ps[i]),
                handler.ghostWithdrawnBy(ps[i]) + slashed + held,
                "staked == withdrawn + slashed + held"
            );
            if (withdrawn) vm.assertEq(held, 0, "nothing held after withdrawal");
            slashedSum += slashed;
        }
        vm.assertEq(market.getTask(taskId).totalSlashed, slashedSum, "task slashed total");
    }

    /// @notice A challenged (or not yet final) settlement pays nothing: the claimable root is
    /// the latest FINAL round's, and a pending settlement is never allocated.
    function invariant_pendingSettlementPaysNothing() public view {
        TaskInfo memory t = market.getTask(taskId);
        if (t.lastFinalRound == 0) {
            vm.assertEq(t.totalAllocated, 0, "nothing allocated before a final round");
            vm.assertEq(t.totalClaimed, 0, "nothing claimed before a final round");
            return;
        }
        RoundInfo memory f = market.getRound(taskId, t.lastFinalRound);
        vm.assertEq(f.status, FINAL, "last final round is final");
        vm.assertEq(t.finalPayoutRoot, f.payoutRoot, "claims use the final root");
        RoundInfo memory latest = market.getRound(taskId, t.lastRound);
        if (latest.status == CHALLENGED || latest.status == SETTLED) {
            vm.assertTrue(t.lastFinalRound < t.lastRound, "pending round is not final");
        }
    }

    /// @notice Bonds are conserved: credited + pending == posted - withdrawn.
    function invariant_bondsAccounted() public view {
        TaskInfo memory t = market.getTask(taskId);
        uint256 pending = 0;
        if (t.lastRound != 0) {
            uint8 s = market.getRound(taskId, t.lastRound).status;
            if (s == SETTLED) pending = t.settleBond;
            if (s == CHALLENGED) pending = 2 * uint256(t.settleBond);
        }
        address[] memory actors = handler.actors();
        uint256 credited = 0;
        for (uint256 i = 0; i < actors.length; i++) {
            credited += market.credits(actors[i]);
        }
        vm.assertEq(
            credited + pending,
            handler.ghostBondsPosted() - handler.ghostCreditsWithdrawn(),
            "bonds conserved"
        );
    }
}
