// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskParams} from "./MarketplaceTypes.sol";

/// @title Events of the fedmarket Marketplace
/// @notice One past-tense event per state change, emitted right after it. Together they carry
/// enough data to rebuild the whole ledger (tasks, rounds, reveals, settlements, money) without
/// reading contract storage.
interface IMarketplaceEvents {
    /// @notice A task was created and `rounds * roundBudget` escrowed from `requester`.
    event TaskCreated(uint256 indexed taskId, address indexed requester, TaskParams params);
    /// @notice The requester cancelled the task before round 1 and got `refund` back.
    event TaskCancelled(uint256 indexed taskId, uint256 refund);
    /// @notice `participant` joined the task, staking `stake`.
    event ParticipantJoined(uint256 indexed taskId, address indexed participant, uint256 stake);
    /// @notice The aggregator opened `round` on `globalModelCid`.
    event RoundOpened(
        uint256 indexed taskId,
        uint32 round,
        string globalModelCid,
        uint64 commitDeadline,
        uint64 revealDeadline,
        uint64 settleDeadline
    );
    /// @notice `participant` committed to its update for `round`.
    event Committed(
        uint256 indexed taskId, uint32 round, address indexed participant, bytes32 commitment
    );
    /// @notice `participant` opened its commitment: its update is `cid` with this sha256.
    event Revealed(
        uint256 indexed taskId,
        uint32 round,
        address indexed participant,
        string cid,
        bytes32 sha256Digest,
        uint32 numSamples
    );
    /// @notice The aggregator settled `round`; `payoutRoot` is the cumulative payout tree's root.
    event RoundSettled(
        uint256 indexed taskId,
        uint32 round,
        string newGlobalCid,
        string reportCid,
        bytes32 payoutRoot,
        uint256 totalPaid,
        uint64 challengeDeadline
    );
    /// @notice `challenger` disputed the settlement of `round` (bond posted).
    event SettlementChallenged(
        uint256 indexed taskId, uint32 round, address indexed challenger, string evidenceCid
    );
    /// @notice `resolver` decided the challenge: upheld voids the settlement.
    event ChallengeResolved(uint256 indexed taskId, uint32 round, bool upheld, address resolver);
    /// @notice The settlement of `round` became final; `totalAllocated` is the task's new total.
    event SettlementFinalized(
        uint256 indexed taskId, uint32 round, bytes32 payoutRoot, uint256 totalAllocated
    );
    /// @notice `participant` lost `amount` of its stake for not revealing in `round`.
    event ParticipantSlashed(
        uint256 indexed taskId, uint32 round, address indexed participant, uint256 amount
    );
    /// @notice The task ended: `reason` 0 = all rounds completed, 1 = wound down (no settlement).
    event TaskEnded(uint256 indexed taskId, uint8 reason);
    /// @notice `account` claimed `amount`, reaching `cumulativeAmount` in total.
    event Claimed(
        uint256 indexed taskId, address indexed account, uint256 amount, uint256 cumulativeAmount
    );
    /// @notice `participant` took back `amount`, its remaining stake.
    event StakeWithdrawn(uint256 indexed taskId, address indexed participant, uint256 amount);
    /// @notice The requester got back `amount` of unallocated budget and slashed stakes.
    event BudgetRefunded(uint256 indexed taskId, address indexed requester, uint256 amount);
    /// @notice A bond of `amount` (from `round` of `taskId`) was credited to `account`.
    event CreditAdded(
        address indexed account, uint256 amount, uint256 indexed taskId, uint32 round
    );
    /// @notice The requester published the validation set (whose sha256 the task fixed) at `cid`.
    event ValidationPublished(uint256 indexed taskId, string cid);
    /// @notice `account` withdrew `amount` of credited bonds.
    event CreditWithdrawn(address indexed account, uint256 amount);
}
