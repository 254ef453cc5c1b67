// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice What a requester fixes when creating a task (immutable afterwards).
/// @dev Only the keccak256 of the two CIDs is stored; the strings live in the TaskCreated event.
struct TaskParams {
    string specCid; // task spec JSON on IPFS (model spec, data, hyperparameters)
    string initialModelCid; // round 1's global model
    bytes32 validationSha256; // sha256 of the private validation set, published later
    uint32 rounds; // >= 1, <= 1000
    uint128 roundBudget; // tokens per round (> 0)
    uint128 minStake; // > 0
    uint32 commitWindow; // seconds, > 0
    uint32 revealWindow; // seconds, > 0
    uint32 settleWindow; // seconds after the reveal deadline within which the aggregator must settle
    uint32 challengeWindow; // seconds after settlement, > 0
    address aggregator; // != 0
    address arbiter; // 0 => the requester resolves challenges
    uint128 settleBond; // bond posted with each settlement and with each challenge; may be 0
    uint16 slashBps; // share of the remaining stake lost per committed-but-unrevealed round
    uint32 maxSamples; // cap on a reveal's self-reported numSamples (> 0)
}

/// @notice Lifecycle of a task as stored.
enum TaskStatus {
    None,
    Active,
    Ended,
    Cancelled
}

/// @notice Lifecycle of one round's settlement as stored. The time-driven sub-phases
/// (commit, reveal, awaiting settlement, challenge window) are derived from timestamps.
enum RoundStatus {
    None,
    Open, // opened, not settled yet
    Settled, // settled, challenge window running (or over but not finalized yet: lazy)
    Challenged, // settled and challenged, awaiting the arbiter
    Final, // settlement final and valid: its payout root is claimable
    Voided // settlement voided by an upheld challenge: pays nothing, keeps the previous model
}

/// @notice The phase a task is in, as returned by `phase(taskId)` (uint8 in the ABI).
enum Phase {
    None, // no such task
    Created, // no round opened yet
    Commit, // current round accepts commitments
    Reveal, // current round accepts reveals
    Settle, // reveal window over, awaiting the aggregator's settlement
    Challenge, // settled, challenge window open, or challenged and awaiting resolution
    Final, // latest round final (or voided): the next round can be opened
    Ended,
    Cancelled
}

/// @dev Storage layout of a task, packed into 10 slots. Totals fit in uint128 because
/// createTask rejects escrows above type(uint128).max.
struct Task {
    // slot 0: read by almost every call
    address requester;
    TaskStatus status;
    uint32 rounds;
    uint32 lastRound; // last opened round (1-based), 0 before round 1
    uint24 lastFinalRound; // last round whose settlement is final and valid, 0 if none
    // slot 1
    address aggregator;
    uint32 commitWindow;
    uint32 revealWindow;
    uint32 settleWindow;
    // slot 2
    address arbiter;
    uint32 challengeWindow;
    uint32 maxSamples;
    uint16 slashBps;
    // slot 3
    uint128 roundBudget;
    uint128 minStake;
    // slot 4
    uint128 settleBond;
    uint128 totalSlashed; // slashed stakes, owed to the requester
    // slot 5: read and written by every claim
    uint128 totalAllocated; // sum of totalPaid over final valid settlements
    uint128 totalClaimed;
    // slot 6
    uint128 totalRefunded; // budget and slashed stakes already paid back to the requester
    // slot 7..9. The claimable root and the next round's model are read from the round
    // `lastFinalRound` rather than copied here, which keeps finalization cheap.
    bytes32 specCidHash;
    bytes32 initialModelCidHash;
    bytes32 validationSha256;
}

/// @dev Storage layout of a round: one packed slot written at opening and updated at
/// settlement, plus the two hashes a settlement fixes and the challenger if any.
/// Deadlines are derived from `openedAt`/`settledAt` and the task's windows.
struct Round {
    uint40 openedAt;
    uint40 settledAt;
    RoundStatus status;
    uint128 totalPaid;
    bytes32 payoutRoot;
    bytes32 newGlobalCidHash;
    address challenger;
}

/// @dev A participant of one task, one slot. Stakes are capped at type(uint112).max.
struct Participant {
    uint112 stake; // stake still held by the marketplace
    uint112 slashedTotal;
    bool joined;
    bool withdrawn;
}

/// @notice Everything stored about a task, as returned by `getTask`.
struct TaskInfo {
    address requester;
    uint8 status; // TaskStatus
    uint32 lastRound;
    uint32 lastFinalRound;
    bytes32 specCidHash;
    bytes32 initialModelCidHash;
    bytes32 modelCidHash; // the CID (hash) the next round must open with (derived)
    bytes32 validationSha256;
    uint32 rounds;
    uint128 roundBudget;
    uint128 minStake;
    uint32 commitWindow;
    uint32 revealWindow;
    uint32 settleWindow;
    uint32 challengeWindow;
    address aggregator;
    address arbiter;
    uint128 settleBond;
    uint16 slashBps;
    uint32 maxSamples;
    uint256 escrow; // rounds * roundBudget
    uint256 totalAllocated;
    uint256 totalClaimed;
    uint256 totalSlashed;
    uint256 totalRefunded;
    bytes32 finalPayoutRoot; // root of round lastFinalRound's settlement, 0 if none (derived)
}

/// @notice Everything stored or derived about a round, as returned by `getRound`.
struct RoundInfo {
    uint8 status; // RoundStatus
    uint64 openedAt;
    uint64 commitDeadline;
    uint64 revealDeadline;
    uint64 settleDeadline;
    uint64 settledAt; // 0 until settled
    uint64 challengeDeadline; // 0 until settled
    uint128 totalPaid;
    bytes32 payoutRoot;
    bytes32 newGlobalCidHash;
    address challenger;
}
