// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskParams} from "./MarketplaceTypes.sol";

/// @title Events of the fedmarket Marketplace
/// @notice One past-tense event per state change, emitted right after it. Together they carry
/// enough data to rebuild the whole ledger (tasks, rounds, reveals, settlements, disputes,
/// money) without reading contract storage.
interface IMarketplaceEvents {
    /// @notice A task was created and `rounds * roundBudget` escrowed from `requester`.
    event TaskCreated(uint256 indexed taskId, address indexed requester, TaskParams params);
    /// @notice The requester cancelled the task before round 1 and got `refund` back.
    event TaskCancelled(uint256 indexed taskId, uint256 refund);
    /// @notice `participant` joined the task, staking `stake`.
    event ParticipantJoined(uint256 indexed taskId, address indexed participant, uint256 stake);
    /// @notice The task took `amount` from `aggregator` as its bond (held until the task ends).
    event AggregatorBondPosted(uint256 indexed taskId, address indexed aggregator, uint256 amount);
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
    /// @notice The aggregator settled `round`; `payoutRoot` covers this round's payouts only.
    event RoundSettled(
        uint256 indexed taskId,
        uint32 round,
        string newGlobalCid,
        string reportCid,
        bytes32 payoutRoot,
        uint256 totalPaid,
        uint64 challengeDeadline
    );
    /// @notice `challenger` disputed the settlement of `round`, posting a bond and committing
    /// to its evidence (revealed after the challenge window).
    event SettlementChallenged(
        uint256 indexed taskId, uint32 round, address indexed challenger, bytes32 commitment
    );
    /// @notice `challenger` opened its evidence commitment: the evidence is at `evidenceCid`.
    event EvidenceRevealed(
        uint256 indexed taskId, uint32 round, address indexed challenger, string evidenceCid
    );
    /// @notice The arbiter rejected every challenge of `round`: the settlement stands and the
    /// challenger bonds go to the aggregator.
    event ChallengeRejected(uint256 indexed taskId, uint32 round, address arbiter);
    /// @notice The arbiter upheld the challenges of `round` and replaced its settlement with
    /// this corrected one (final at once).
    event SettlementCorrected(
        uint256 indexed taskId,
        uint32 round,
        string newGlobalCid,
        string reportCid,
        bytes32 payoutRoot,
        uint256 totalPaid,
        address arbiter
    );
    /// @notice The settlement of `round` became final at `finalAt` (its effective time) by
    /// `outcome` (an `Outcome` value); its payout root is claimable from now on.
    event SettlementFinalized(
        uint256 indexed taskId,
        uint32 round,
        uint8 outcome,
        bytes32 payoutRoot,
        uint256 totalPaid,
        uint64 finalAt
    );
    /// @notice The aggregator's bond of `amount` was forfeited in `round` (the task's last
    /// opened round). `toRequester` of it went to the requester's refundable balance (all of it
    /// on a liveness fault, the division remainder on an upheld challenge); the rest is split
    /// equally among the challengers that revealed evidence (see `collectChallenge`).
    event AggregatorBondForfeited(
        uint256 indexed taskId, uint32 round, uint256 amount, uint256 toRequester
    );
    /// @notice The task ended normally and the aggregator's bond was credited back to it.
    event AggregatorBondReturned(
        uint256 indexed taskId, address indexed aggregator, uint256 amount
    );
    /// @notice `participant` lost `amount` of its stake for not revealing in `round`; round 0
    /// means "at withdrawal", covering every commitment still unrevealed and unslashed then.
    event ParticipantSlashed(
        uint256 indexed taskId, uint32 round, address indexed participant, uint256 amount
    );
    /// @notice The task ended at `endedAt`: `reason` 0 = last round final, 1 = wound down, a
    /// settlement missed its deadline, 2 = wound down, a round (1 or the next) was not opened
    /// in time. Claims stay open until endedAt + claimWindow.
    event TaskEnded(uint256 indexed taskId, uint8 reason, uint64 endedAt);
    /// @notice `account` claimed `amount`, its payout in `round` (one event per round claimed).
    event Claimed(uint256 indexed taskId, address indexed account, uint32 round, uint256 amount);
    /// @notice A challenger of `round` took back `amount`: its bond, plus its share of the
    /// aggregator's bond when the challenge was upheld.
    event ChallengerPaid(
        uint256 indexed taskId, uint32 round, address indexed challenger, uint256 amount
    );
    /// @notice `participant` took back `amount`, its remaining stake.
    event StakeWithdrawn(uint256 indexed taskId, address indexed participant, uint256 amount);
    /// @notice The requester got back `amount`: unallocated budget, slashed stakes, forfeited
    /// bonds and, after the claim deadline, unclaimed allocations.
    event BudgetRefunded(uint256 indexed taskId, address indexed requester, uint256 amount);
    /// @notice `amount` (from `round` of `taskId`) was credited to `account`: a returned
    /// aggregator bond, or challenger bonds won by the aggregator.
    event CreditAdded(
        address indexed account, uint256 amount, uint256 indexed taskId, uint32 round
    );
    /// @notice The requester published the validation set (whose sha256 the task fixed) at `cid`.
    event ValidationPublished(uint256 indexed taskId, string cid);
    /// @notice `account` withdrew `amount` of credited bonds.
    event CreditWithdrawn(address indexed account, uint256 amount);
}
