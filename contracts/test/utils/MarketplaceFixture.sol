// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {IMarketplaceErrors} from "../../src/IMarketplaceErrors.sol";
import {IMarketplaceEvents} from "../../src/IMarketplaceEvents.sol";
import {TaskParams} from "../../src/MarketplaceTypes.sol";
import {RewardToken} from "../../src/RewardToken.sol";
import {MerkleHelper} from "./MerkleHelper.sol";
import {TestBase} from "./TestBase.sol";

/// @notice A deployed token + marketplace with funded, approving actors and round helpers.
abstract contract MarketplaceFixture is TestBase, IMarketplaceErrors, IMarketplaceEvents {
    uint8 internal constant PHASE_NONE = 0;
    uint8 internal constant PHASE_CREATED = 1;
    uint8 internal constant PHASE_COMMIT = 2;
    uint8 internal constant PHASE_REVEAL = 3;
    uint8 internal constant PHASE_SETTLE = 4;
    uint8 internal constant PHASE_CHALLENGE = 5;
    uint8 internal constant PHASE_FINAL = 6;
    uint8 internal constant PHASE_ENDED = 7;
    uint8 internal constant PHASE_CANCELLED = 8;

    uint128 internal constant BUDGET = 1_000 ether;
    uint128 internal constant MIN_STAKE = 10 ether;
    uint128 internal constant BOND = 5 ether;
    uint32 internal constant COMMIT_WINDOW = 1 hours;
    uint32 internal constant REVEAL_WINDOW = 1 hours;
    uint32 internal constant SETTLE_WINDOW = 2 hours;
    uint32 internal constant CHALLENGE_WINDOW = 1 days;
    uint256 internal constant FUNDS = 1_000_000 ether;
    string internal constant SPEC_CID = "bafkreispec";
    string internal constant MODEL0 = "bafkreimodel0";

    RewardToken internal token;
    Marketplace internal market;
    address internal requester;
    address internal aggregator;
    address internal arbiter;
    address internal alice;
    address internal bob;
    address internal carol;
    address internal outsider;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        token = new RewardToken();
        market = new Marketplace(IERC20(address(token)));
        requester = makeAddr("requester");
        aggregator = makeAddr("aggregator");
        arbiter = makeAddr("arbiter");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        carol = makeAddr("carol");
        outsider = makeAddr("outsider");
        address[7] memory actors = [requester, aggregator, arbiter, alice, bob, carol, outsider];
        for (uint256 i = 0; i < actors.length; i++) {
            fund(actors[i], FUNDS);
        }
    }

    function fund(address account, uint256 amount) internal {
        token.mint(account, amount);
        vm.prank(account);
        token.approve(address(market), type(uint256).max);
    }

    function defaultParams() internal view returns (TaskParams memory p) {
        p.specCid = SPEC_CID;
        p.initialModelCid = MODEL0;
        p.validationSha256 = sha256("validation set");
        p.rounds = 3;
        p.roundBudget = BUDGET;
        p.minStake = MIN_STAKE;
        p.commitWindow = COMMIT_WINDOW;
        p.revealWindow = REVEAL_WINDOW;
        p.settleWindow = SETTLE_WINDOW;
        p.challengeWindow = CHALLENGE_WINDOW;
        p.aggregator = aggregator;
        p.arbiter = arbiter;
        p.settleBond = BOND;
        p.slashBps = 1_000;
        p.maxSamples = 10_000;
    }

    function createTask(TaskParams memory p) internal returns (uint256 taskId) {
        vm.prank(requester);
        taskId = market.createTask(p);
    }

    function createDefaultTask() internal returns (uint256) {
        return createTask(defaultParams());
    }

    function join(uint256 taskId, address who) internal {
        vm.prank(who);
        market.join(taskId, MIN_STAKE);
    }

    function modelCid(uint32 round) internal pure returns (string memory) {
        return round == 0 ? MODEL0 : string.concat("bafkreimodel", vm.toString(round));
    }

    function updateCid(address who, uint32 round) internal pure returns (string memory) {
        return string.concat("bafkreiupdate-", vm.toString(who), "-", vm.toString(round));
    }

    function openRound(uint256 taskId, uint32 round) internal {
        vm.prank(aggregator);
        market.openRound(taskId, modelCid(round - 1));
    }

    function commitmentOf(uint256 taskId, uint32 round, address who)
        internal
        view
        returns (bytes32)
    {
        return market.commitmentFor(
            taskId,
            round,
            updateCid(who, round),
            sha256(bytes(updateCid(who, round))),
            100,
            who,
            keccak256(abi.encode("salt", who, round))
        );
    }

    function commit(uint256 taskId, uint32 round, address who) internal {
        bytes32 c = commitmentOf(taskId, round, who);
        vm.prank(who);
        market.commit(taskId, c);
    }

    function reveal(uint256 taskId, uint32 round, address who) internal {
        // Arguments first: sha256 is a precompile call, which would consume the prank.
        string memory cid = updateCid(who, round);
        bytes32 digest = sha256(bytes(cid));
        bytes32 salt = keccak256(abi.encode("salt", who, round));
        vm.prank(who);
        market.reveal(taskId, cid, digest, 100, salt);
    }

    function toRevealWindow(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).commitDeadline + 1);
    }

    function toSettleWindow(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).revealDeadline + 1);
    }

    function afterChallengeWindow(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).challengeDeadline + 1);
    }

    function settle(uint256 taskId, uint32 round, bytes32 root, uint256 totalPaid) internal {
        vm.prank(aggregator);
        market.settle(taskId, modelCid(round), "bafkreireport", root, totalPaid);
    }

    /// @dev Runs a round in which `who` commit and reveal, then settles it with `root`.
    function runRound(
        uint256 taskId,
        uint32 round,
        address[] memory who,
        bytes32 root,
        uint256 totalPaid
    ) internal {
        openRound(taskId, round);
        for (uint256 i = 0; i < who.length; i++) {
            commit(taskId, round, who[i]);
        }
        toRevealWindow(taskId, round);
        for (uint256 i = 0; i < who.length; i++) {
            reveal(taskId, round, who[i]);
        }
        toSettleWindow(taskId, round);
        settle(taskId, round, root, totalPaid);
    }

    function single(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function pair(address a, address b) internal pure returns (address[] memory list) {
        list = new address[](2);
        list[0] = a;
        list[1] = b;
    }

    function amounts(uint256 a, uint256 b) internal pure returns (uint256[] memory list) {
        list = new uint256[](2);
        list[0] = a;
        list[1] = b;
    }

    function rootOf(address[] memory accounts, uint256[] memory values)
        internal
        pure
        returns (bytes32)
    {
        return MerkleHelper.root(accounts, values);
    }

    function proofOf(address[] memory accounts, uint256[] memory values, address account)
        internal
        pure
        returns (bytes32[] memory)
    {
        return MerkleHelper.proof(accounts, values, account);
    }
}
