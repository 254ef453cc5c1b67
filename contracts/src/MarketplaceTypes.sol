// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice What a requester fixes when creating a task (immutable afterwards).
/// @dev Only the keccak256 of the two CIDs is stored; the strings live in the TaskCreated event.
/// Every window is in seconds and must be at least the marketplace's `minWindow`.
struct TaskParams {
    string specCid; // task spec JSON on IPFS (model spec, data, hyperparameters)
    string initialModelCid; // round 1's global model (non-empty)
    bytes32 validationSha256; // sha256 of the private validation set, published later
    uint32 rounds; // 1..MAX_ROUNDS
    uint128 roundBudget; // tokens per round (> 0)
    uint128 minStake; // > 0
    uint32 commitWindow; // commits accepted until openedAt + commitWindow
    uint32 revealWindow; // reveals after that, for revealWindow; also the challengers' evidence window
    uint32 settleWindow; // the aggregator's deadline to settle, to open round 1 and each next round
    uint32 challengeWindow; // challenges accepted until settledAt + challengeWindow
    uint32 resolveWindow; // the arbiter rules within resolveWindow after the evidence deadline
    uint32 claimWindow; // claims stay open for claimWindow after the task ended
    address aggregator; // != 0, != requester, != arbiter
    address arbiter; // != 0, != requester, != aggregator; the only one who rules on challenges
    uint128 settleBond; // > 0: the aggregator's bond (held for the task) and each challenger's bond
    uint16 slashBps; // <= MAX_SLASH_BPS: share of the ORIGINAL stake lost per unrevealed commitment
    uint32 maxSamples; // cap on a reveal's self-reported numSamples (> 0)
}

/// @notice One round of a multi-round claim: the caller's amount in that round's payout tree.
struct RoundClaim {
    uint32 round;
    uint256 amount;
    bytes32[] proof;
}

/// @notice Lifecycle of a task as stored.
enum TaskStatus {
    None,
    Active,
    Ended,
    Cancelled
}

/// @notice Lifecycle of one round's settlement as stored. The time-driven sub-phases (commit,
/// reveal, awaiting settlement, challenge window, evidence window, ruling window) are derived
/// from timestamps. There is no "voided" state: an upheld challenge corrects the settlement.
enum RoundStatus {
    None,
    Open, // opened, not settled yet
    Settled, // settled, no challenge (window running, or over but not finalized yet: lazy)
    Challenged, // settled and challenged at least once: evidence, then the arbiter's ruling
    Final // final: its payout root is claimable and will never change
}

/// @notice How a final settlement became final (stored with it; decides who gets the bonds).
enum Outcome {
    None, // not final yet
    Unchallenged, // challenge window passed without a challenge
    Rejected, // the arbiter rejected the challenges: challenger bonds to the aggregator
    Corrected, // the arbiter upheld: its corrected settlement replaced the aggregator's
    NoEvidence, // challenged, but no challenger revealed evidence: bonds to the aggregator
    ArbiterSilent // evidence revealed, arbiter silent past its deadline: settlement stands
}

/// @notice The state of one challenger's challenge of one settlement.
enum ChallengeState {
    None,
    Committed, // bond posted with an evidence commitment
    Revealed, // evidence revealed in time
    Collected // a revealed challenger took its bond (and share) back
}

/// @notice The phase a task is in, as returned by `phase(taskId)` (uint8 in the ABI).
/// @dev Values 0..8 are unchanged from the first version; 9 and 10 were added at the end.
enum Phase {
    None, // no such task
    Created, // no round opened yet
    Commit, // current round accepts commitments
    Reveal, // current round accepts reveals
    Settle, // reveal window over, awaiting the aggregator's settlement
    Challenge, // settled, challenge window open (challenged or not)
    Final, // latest round final: the next round can be opened
    Ended,
    Cancelled,
    Evidence, // challenge window over, challengers reveal their evidence
    Ruling // evidence window over, awaiting the arbiter's ruling
}

/// @dev Storage layout of a task, packed into 11 slots. Totals fit in uint128 because
/// createTask rejects escrows above type(uint128).max and stakes/bonds are bounded.
struct Task {
    // slot 0: read by almost every call
    address requester;
    TaskStatus status;
    uint32 rounds;
    uint32 lastRound; // last opened round (1-based), 0 before round 1
    uint24 lastFinalRound; // last round whose settlement is final, 0 if none
    // slot 1: everything commit and reveal read besides slot 0
    address aggregator;
    uint32 commitWindow;
    uint32 revealWindow;
    uint32 maxSamples;
    // slot 2
    address arbiter;
    uint32 challengeWindow;
    uint32 resolveWindow;
    uint32 claimWindow;
    // slot 3
    uint128 roundBudget;
    uint128 minStake;
    // slot 4
    uint128 settleBond;
    uint128 totalSlashed; // slashed stakes, owed to the requester
    // slot 5: written by every claim
    uint128 totalAllocated; // sum of totalPaid over final settlements
    uint128 totalClaimed;
    // slot 6
    uint128 totalRefunded; // everything already paid back to the requester
    uint128 totalForfeited; // forfeited aggregator bonds (and split dust), owed to the requester
    // slot 7
    uint40 createdAt;
    uint40 endedAt; // when the task ended or was cancelled; 0 while active
    uint32 settleWindow;
    uint16 slashBps;
    bool validationPublished;
    bool aggregatorBondHeld; // the task holds settleBond from the aggregator
    // slot 8..10. The next round's model is read from the round `lastFinalRound`.
    bytes32 specCidHash;
    bytes32 initialModelCidHash;
    bytes32 validationSha256;
}

/// @dev Storage layout of a round: one packed slot of times, status and counters, one of
/// money (read and written together by every claim), and the two hashes a settlement fixes.
/// Deadlines are derived from `openedAt`/`settledAt` and the task's windows.
struct Round {
    // slot 0
    uint40 openedAt;
    uint40 settledAt;
    uint40 finalAt; // the EFFECTIVE time the settlement became final (deterministic)
    RoundStatus status;
    Outcome outcome;
    uint32 challengers; // challenges posted
    uint32 revealedChallengers; // challenges whose evidence was revealed in time
    // slot 1
    uint128 totalPaid;
    uint128 totalClaimed;
    // slot 2, 3
    bytes32 payoutRoot;
    bytes32 newGlobalCidHash;
}

/// @dev A participant of one task, one slot. Stakes are capped at type(uint112).max.
struct Participant {
    uint112 stake; // stake still held by the marketplace
    uint112 slashedTotal; // stake + slashedTotal is the original stake
    bool joined;
    bool withdrawn;
    uint16 unrevealed; // commitments not revealed and not slashed yet (<= rounds)
}

/// @dev One challenger's challenge of one settlement.
struct Challenge {
    bytes32 commitment;
    ChallengeState state;
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
    uint32 resolveWindow;
    uint32 claimWindow;
    address aggregator;
    address arbiter;
    uint128 settleBond;
    uint16 slashBps;
    uint32 maxSamples;
    uint256 escrow; // rounds * roundBudget
    uint256 totalAllocated;
    uint256 totalClaimed;
    uint256 totalSlashed;
    uint256 totalForfeited;
    uint256 totalRefunded;
    uint64 createdAt;
    uint64 endedAt; // 0 while active
    uint64 openDeadline; // latest time the aggregator may open the next round, 0 if none is due
    uint64 claimDeadline; // endedAt + claimWindow once ended, 0 while active
    bool validationPublished;
    bool aggregatorBondHeld;
}

/// @notice Everything stored or derived about a round, as returned by `getRound`.
struct RoundInfo {
    uint8 status; // RoundStatus
    uint8 outcome; // Outcome
    uint64 openedAt;
    uint64 commitDeadline;
    uint64 revealDeadline;
    uint64 settleDeadline;
    uint64 settledAt; // 0 until settled
    uint64 challengeDeadline; // 0 until settled
    uint64 evidenceDeadline; // 0 until settled: challengeDeadline + revealWindow
    uint64 resolveDeadline; // 0 until settled: evidenceDeadline + resolveWindow
    uint64 finalAt; // 0 until final
    uint128 totalPaid;
    uint128 totalClaimed;
    bytes32 payoutRoot;
    bytes32 newGlobalCidHash;
    uint32 challengers;
    uint32 revealedChallengers;
}
