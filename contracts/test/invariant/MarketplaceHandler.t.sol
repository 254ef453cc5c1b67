// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "../utils/TestBase.sol";
import {MarketplaceHandler} from "./MarketplaceHandler.sol";

/// @notice The invariant handler's actions really reach every part of the protocol (a broken
/// action would otherwise just revert silently inside the fuzzer's campaigns).
contract MarketplaceHandlerTest is TestBase {
    MarketplaceHandler internal h;

    function setUp() public {
        vm.warp(1_700_000_000);
        h = new MarketplaceHandler();
    }

    function reached(string memory action) internal view {
        vm.assertGe(h.successes(action), 1, action);
    }

    function testScriptedTaskReachesEveryAction() public {
        h.playRound(0, 0, 0, 0, 0); // nobody commits (masks 0: commit/reveal skipped)
        h.playRound(type(uint256).max, type(uint256).max, 40 ether, 0, 0);
        h.playDispute(7, 7, 1, 60 ether); // three challengers, all reveal, upheld
        h.claim(0, 0);
        h.collectChallenge(0, 2);
        h.playRound(type(uint256).max, 0x0F, 50 ether, 1, 0); // participants 2, 3 do not reveal
        h.slash(3, 2);
        h.playDispute(3, 1, 0, 0); // two challengers, one reveals, rejected
        h.playRound(type(uint256).max, type(uint256).max, 30 ether, 2, 1);
        h.playDispute(1, 1, 2, 0); // arbiter silent
        h.claim(1, 0);
        h.claim(2, 0);
        h.collectChallenge(0, 4);
        h.drain();
        string[13] memory actions = [
            "openRound",
            "settle",
            "challenge",
            "revealEvidence",
            "reject",
            "uphold",
            "collectChallenge",
            "claim",
            "claimSeveral",
            "slash",
            "refund",
            "drain",
            "drainAfterAllRounds"
        ];
        for (uint256 i = 0; i < actions.length; i++) {
            reached(actions[i]);
        }
        vm.assertEq(h.violations(), 0, h.lastViolation());
        vm.assertEq(h.token().balanceOf(address(h.market())), 0, "drained");
    }

    function testWindDownIsReachable() public {
        h.openRound();
        h.warp(400);
        h.warp(400);
        h.windDown();
        reached("windDown");
        h.drain();
        vm.assertEq(h.token().balanceOf(address(h.market())), 0, "drained");
    }
}
