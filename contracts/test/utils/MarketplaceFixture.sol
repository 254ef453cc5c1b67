// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {IMarketplaceErrors} from "../../src/IMarketplaceErrors.sol";
import {IMarketplaceEvents} from "../../src/IMarketplaceEvents.sol";
import {RoundClaim, TaskParams} from "../../src/MarketplaceTypes.sol";
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
    uint8 internal constant PHASE_EVIDENCE = 9;
    uint8 internal constant PHASE_RULING = 10;

    uint8 internal constant ROUND_OPEN = 1;
    uint8 internal constant ROUND_SETTLED = 2;
    uint8 internal constant ROUND_CHALLENGED = 3;
    uint8 internal constant ROUND_FINAL = 4;

    uint8 internal constant OUTCOME_UNCHALLENGED = 1;
    uint8 internal constant OUTCOME_REJECTED = 2;
    uint8 internal constant OUTCOME_CORRECTED = 3;
    uint8 internal constant OUTCOME_NO_EVIDENCE = 4;
    uint8 internal constant OUTCOME_ARBITER_SILENT = 5;

    uint8 internal constant CHALLENGE_COMMITTED = 1;
    uint8 internal constant CHALLENGE_REVEALED = 2;
    uint8 internal constant CHALLENGE_COLLECTED = 3;

    uint8 internal constant ENDED_COMPLETED = 0;
    uint8 internal constant ENDED_SETTLEMENT_MISSED = 1;
    uint8 internal constant ENDED_ROUND_NOT_OPENED = 2;

    uint128 internal constant BUDGET = 1_000 ether;
    uint128 internal constant MIN_STAKE = 10 ether;
    uint128 internal constant BOND = 5 ether;
    uint32 internal constant MIN_WINDOW = 1 hours;
    uint32 internal constant COMMIT_WINDOW = 1 hours;
    uint32 internal constant REVEAL_WINDOW = 1 hours;
    uint32 internal constant SETTLE_WINDOW = 2 hours;
    uint32 internal constant CHALLENGE_WINDOW = 1 days;
    uint32 internal constant RESOLVE_WINDOW = 2 days;
    uint32 internal constant CLAIM_WINDOW = 30 days;
    uint256 internal constant FUNDS = 1_000_000 ether;
    string internal constant SPEC_CID = "bafkreispec";
    string internal constant MODEL0 = "bafkreimodel0";
    string internal constant VALIDATION_CID = "bafkreivalidation";

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
        market = new Marketplace(IERC20(address(token)), MIN_WINDOW);
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
        p.resolveWindow = RESOLVE_WINDOW;
        p.claimWindow = CLAIM_WINDOW;
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

    function revealed(uint256 taskId, uint32 round, address who) internal view returns (bool r) {
        (, r,,) = market.participantRoundOf(taskId, round, who);
    }

    function claimed(uint256 taskId, uint32 round, address who) internal view returns (bool c) {
        (,,, c) = market.participantRoundOf(taskId, round, who);
    }

    function stakeOf(uint256 taskId, address who) internal view returns (uint256 stake) {
        (stake,,,,) = market.participantOf(taskId, who);
    }

    function toRevealWindow(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).commitDeadline + 1);
    }

    function toSettleWindow(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).revealDeadline + 1);
    }

    function afterSettleDeadline(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).settleDeadline + 1);
    }

    function afterChallengeWindow(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).challengeDeadline + 1);
    }

    /// @dev Challenge window over: challengers reveal their evidence.
    function toEvidenceWindow(uint256 taskId, uint32 round) internal {
        afterChallengeWindow(taskId, round);
    }

    /// @dev Evidence window over: the arbiter rules.
    function toRulingWindow(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).evidenceDeadline + 1);
    }

    function afterResolveDeadline(uint256 taskId, uint32 round) internal {
        vm.warp(market.getRound(taskId, round).resolveDeadline + 1);
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

    /// @dev Runs a round in which `who` reveal, paying them `values`, and lets it become final.
    function finalRound(uint256 taskId, uint32 round, address[] memory who, uint256[] memory values)
        internal
    {
        runRound(taskId, round, who, rootOf(taskId, round, who, values), sum(values));
        afterChallengeWindow(taskId, round);
        market.finalize(taskId);
    }

    // ------------------------------------------------------------ disputes

    function evidenceCid(address who) internal pure returns (string memory) {
        return string.concat("bafkreievidence-", vm.toString(who));
    }

    function evidenceSalt(address who, uint32 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("evidence salt", who, round));
    }

    /// @dev The evidence commitment, computed here (not by the contract) from the documented
    /// encoding, so that a vm.expectRevert before `challengeAs` applies to `challenge` itself.
    function evidenceCommitment(uint256 taskId, uint32 round, address who)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                taskId, round, keccak256(bytes(evidenceCid(who))), who, evidenceSalt(who, round)
            )
        );
    }

    function challengeAs(uint256 taskId, uint32 round, address who) internal {
        bytes32 c = evidenceCommitment(taskId, round, who);
        vm.prank(who);
        market.challenge(taskId, round, c);
    }

    function revealEvidenceAs(uint256 taskId, uint32 round, address who) internal {
        vm.prank(who);
        market.revealEvidence(taskId, round, evidenceCid(who), evidenceSalt(who, round));
    }

    /// @dev `who` challenge `round`; the challenge window closes and they all reveal evidence;
    /// the evidence window closes (the arbiter may rule next).
    function disputeRound(uint256 taskId, uint32 round, address[] memory who) internal {
        for (uint256 i = 0; i < who.length; i++) {
            challengeAs(taskId, round, who[i]);
        }
        toEvidenceWindow(taskId, round);
        for (uint256 i = 0; i < who.length; i++) {
            revealEvidenceAs(taskId, round, who[i]);
        }
        toRulingWindow(taskId, round);
    }

    function upholdWith(uint256 taskId, uint32 round, bytes32 root, uint256 totalPaid) internal {
        vm.prank(arbiter);
        market.uphold(
            taskId,
            round,
            string.concat("bafkreicorrected", vm.toString(round)),
            "bafkreicorrectedreport",
            root,
            totalPaid
        );
    }

    // ------------------------------------------------------------ claims

    function claimRound(
        uint256 taskId,
        uint32 round,
        address who,
        address[] memory accounts,
        uint256[] memory values
    ) internal {
        RoundClaim[] memory claims = new RoundClaim[](1);
        claims[0] = roundClaim(taskId, round, who, accounts, values);
        vm.prank(who);
        market.claim(taskId, claims);
    }

    function roundClaim(
        uint256 taskId,
        uint32 round,
        address who,
        address[] memory accounts,
        uint256[] memory values
    ) internal pure returns (RoundClaim memory c) {
        c.round = round;
        for (uint256 i = 0; i < accounts.length; i++) {
            if (accounts[i] == who) c.amount = values[i];
        }
        c.proof = MerkleHelper.proof(taskId, round, accounts, values, who);
    }

    function publishValidation(uint256 taskId) internal {
        vm.prank(requester);
        market.publishValidation(taskId, VALIDATION_CID);
    }

    // ------------------------------------------------------------ lists

    function single(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function pair(address a, address b) internal pure returns (address[] memory list) {
        list = new address[](2);
        list[0] = a;
        list[1] = b;
    }

    function one(uint256 a) internal pure returns (uint256[] memory list) {
        list = new uint256[](1);
        list[0] = a;
    }

    function amounts(uint256 a, uint256 b) internal pure returns (uint256[] memory list) {
        list = new uint256[](2);
        list[0] = a;
        list[1] = b;
    }

    function sum(uint256[] memory values) internal pure returns (uint256 total) {
        for (uint256 i = 0; i < values.length; i++) {
            total += values[i];
        }
    }

    function rootOf(
        uint256 taskId,
        uint32 round,
        address[] memory accounts,
        uint256[] memory values
    ) internal pure returns (bytes32) {
        return MerkleHelper.root(taskId, round, accounts, values);
    }

    function proofOf(
        uint256 taskId,
        uint32 round,
        address[] memory accounts,
        uint256[] memory values,
        address account
    ) internal pure returns (bytes32[] memory) {
        return MerkleHelper.proof(taskId, round, accounts, values, account);
    }
}
