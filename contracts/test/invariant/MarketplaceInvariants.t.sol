// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Marketplace} from "../../src/Marketplace.sol";
import {RoundInfo, TaskInfo} from "../../src/MarketplaceTypes.sol";
import {RewardToken} from "../../src/RewardToken.sol";
import {TestBase} from "../utils/TestBase.sol";
import {MarketplaceHandler} from "./MarketplaceHandler.sol";

/// @notice Properties that hold after any sequence of handler actions. Foundry runs each
/// invariant_* function as its own fuzzing campaign (runs x depth from foundry.toml), and the
/// handler's work dominates, so the properties (one internal check each) share one campaign:
/// a third of the CI time of three campaigns, the same calls checked against all of them.
contract MarketplaceInvariantTest is TestBase {
    uint8 internal constant FINAL = 4;
    uint8 internal constant CORRECTED = 3;
    uint8 internal constant ARBITER_SILENT = 5;
    uint8 internal constant REVEALED = 2;

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

    /// @notice After every call of every sequence: the money, rounds and stakes properties.
    function invariant_protocol() public view {
        checkMoney();
        checkRounds();
        checkStakes();
    }

    /// @notice Money: every minted token is held by an actor or the marketplace; the
    /// marketplace holds exactly what came in minus what went out; and exactly what it owes
    /// (solvency with no slack); after every deadline, once every party withdrew, nothing.
    function checkMoney() internal view {
        address[] memory actors = handler.actors();
        uint256 sum = token.balanceOf(address(market));
        for (uint256 i = 0; i < actors.length; i++) {
            sum += token.balanceOf(actors[i]);
        }
        vm.assertEq(sum, token.totalSupply(), "sum of balances == minted");

        TaskInfo memory t = market.getTask(taskId);
        uint256 inflow = t.escrow + handler.ghostStaked() + handler.ghostBondsPosted();
        uint256 outflow = handler.ghostRefunded() + handler.ghostClaimedPaid()
            + handler.ghostStakeWithdrawn() + handler.ghostCreditsWithdrawn()
            + handler.ghostChallengerPaid();
        uint256 balance = token.balanceOf(address(market));
        vm.assertEq(balance, inflow - outflow, "balance == books");
        vm.assertEq(t.totalRefunded, handler.ghostRefunded(), "refunds recorded");
        vm.assertEq(t.totalClaimed, handler.ghostClaimedPaid(), "claims recorded");
        vm.assertEq(balance, owed(t, actors), "balance == what is owed");
        if (handler.drained()) vm.assertEq(balance, 0, "nothing left after everyone withdrew");
    }

    /// @dev Everything the marketplace owes: to the requester and claimants (escrow, slashed
    /// stakes and forfeited bonds, less refunds and claims), stakes, credits, the held
    /// aggregator bond, challenger bonds of pending rounds and uncollected challenger payouts.
    function owed(TaskInfo memory t, address[] memory actors) internal view returns (uint256) {
        uint256 total =
            t.escrow + t.totalSlashed + t.totalForfeited - t.totalRefunded - t.totalClaimed;
        address[4] memory ps = handler.participants();
        for (uint256 i = 0; i < ps.length; i++) {
            (uint256 stake,,,,) = market.participantOf(taskId, ps[i]);
            total += stake;
        }
        for (uint256 i = 0; i < actors.length; i++) {
            total += market.credits(actors[i]);
        }
        if (t.aggregatorBondHeld) total += t.settleBond;
        address[3] memory cs = handler.challengers();
        for (uint32 r = 1; r <= t.lastRound; r++) {
            RoundInfo memory rd = market.getRound(taskId, r);
            if (rd.status != FINAL) {
                total += uint256(rd.challengers) * t.settleBond;
                continue;
            }
            for (uint256 c = 0; c < cs.length; c++) {
                (, uint8 state) = market.challengeOf(taskId, r, cs[c]);
                if (state != REVEALED) continue;
                if (rd.outcome == CORRECTED) {
                    total += t.settleBond + t.settleBond / rd.revealedChallengers;
                }
                if (rd.outcome == ARBITER_SILENT) total += t.settleBond;
            }
        }
        return total;
    }

    /// @notice Rounds: no round pays more than its budget; each round's claims stay within
    /// its totalPaid and match what was paid for it; only final settlements are allocated;
    /// claims only reach the round's revealers, pay exactly their leaves, and a final round's
    /// root and unclaimed amounts never change before the claim deadline (checked by the
    /// handler after every action).
    function checkRounds() internal view {
        TaskInfo memory t = market.getTask(taskId);
        uint256 allocated = 0;
        uint256 claimedSum = 0;
        for (uint32 r = 1; r <= t.lastRound; r++) {
            RoundInfo memory rd = market.getRound(taskId, r);
            vm.assertLe(rd.totalPaid, t.roundBudget, "round within budget");
            vm.assertLe(rd.totalClaimed, rd.totalPaid, "claims within the round's total");
            vm.assertEq(rd.totalClaimed, handler.ghostRoundClaimed(r), "round claims recorded");
            if (rd.status == FINAL) allocated += rd.totalPaid;
            else vm.assertEq(rd.totalClaimed, 0, "nothing claimed from a pending round");
            claimedSum += rd.totalClaimed;
        }
        vm.assertEq(t.totalAllocated, allocated, "allocated == sum of final rounds");
        vm.assertEq(t.totalClaimed, claimedSum, "task claims == sum of round claims");
        vm.assertLe(t.totalAllocated, t.escrow, "allocated <= escrow");
        vm.assertEq(handler.violations(), 0, handler.lastViolation());
    }

    /// @notice Stakes: staked == withdrawn + slashed + held per participant; a withdrawn
    /// participant holds nothing and has no pending slash; the task's slashed total matches.
    function checkStakes() internal view {
        address[4] memory ps = handler.participants();
        uint256 slashedSum = 0;
        for (uint256 i = 0; i < ps.length; i++) {
            (uint256 held,, uint256 slashed, bool withdrawn, uint256 unrevealed) =
                market.participantOf(taskId, ps[i]);
            vm.assertEq(
                handler.ghostStakedBy(ps[i]),
                handler.ghostWithdrawnBy(ps[i]) + slashed + held,
                "staked == withdrawn + slashed + held"
            );
            if (withdrawn) {
                vm.assertEq(held, 0, "nothing held after withdrawal");
                vm.assertEq(unrevealed, 0, "every pending slash applied");
            }
            slashedSum += slashed;
        }
        vm.assertEq(market.getTask(taskId).totalSlashed, slashedSum, "task slashed total");
    }
}
