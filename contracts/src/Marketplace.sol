// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IMarketplaceErrors} from "./IMarketplaceErrors.sol";
import {IMarketplaceEvents} from "./IMarketplaceEvents.sol";
import {
    Participant,
    Phase,
    Round,
    RoundInfo,
    RoundStatus,
    Task,
    TaskInfo,
    TaskParams,
    TaskStatus
} from "./MarketplaceTypes.sol";

/// @title fedmarket Marketplace
/// @notice Federated-learning tasks paid in one ERC-20: a requester escrows `rounds * roundBudget`,
/// participants stake, and every round runs commit -> reveal -> settle (with a bond) -> challenge
/// window -> final. Rewards are pulled with Merkle proofs of cumulative amounts, so one claim covers
/// any number of rounds. See DESIGN.md for the protocol.
/// @dev Storage holds hashes and packed counters only; CIDs and reports live in events, which are
/// enough to rebuild the ledger. No function loops over participants or rounds. A settlement
/// becomes final lazily: `finalize`, `openRound`, `claim`, `withdrawStake` and `refund` all
/// finalize the latest settlement first when its challenge window has passed unchallenged.
contract Marketplace is IMarketplaceErrors, IMarketplaceEvents, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Upper bound on `TaskParams.rounds`.
    uint32 public constant MAX_ROUNDS = 1000;
    /// @notice Denominator of `slashBps`.
    uint16 public constant BPS = 10_000;

    /// @notice The token of budgets, stakes, bonds and rewards.
    IERC20 public immutable token;
    /// @notice Number of tasks created; task ids are 1..taskCount.
    uint256 public taskCount;
    /// @notice Bonds credited to an account, withdrawn with `withdrawCredit`.
    mapping(address account => uint256) public credits;
    /// @notice Cumulative amount an account has claimed from a task.
    mapping(uint256 taskId => mapping(address account => uint256)) public claimed;

    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 taskId => mapping(uint32 round => Round)) private _rounds;
    mapping(uint256 taskId => mapping(address account => Participant)) private _participants;
    mapping(uint256 taskId => mapping(uint32 round => mapping(address account => bytes32))) private
        _commitments;
    /// @dev Bit (round % 256) of word (round / 256) is set once the account revealed in that
    /// round. Bit 0 of word 0 (round 0 does not exist) is set at join so that reveals in rounds
    /// 1..255 update a non-zero slot, which is much cheaper than initialising one.
    mapping(uint256 taskId => mapping(address account => mapping(uint256 word => uint256))) private
        _revealedBits;
    mapping(uint256 taskId => mapping(uint32 round => mapping(address account => bool))) private
        _slashed;

    /// @param rewardToken the ERC-20 every amount of this marketplace is denominated in
    constructor(IERC20 rewardToken) {
        token = rewardToken;
    }

    // ---------------------------------------------------------------- requester

    /// @notice Creates a task and escrows `p.rounds * p.roundBudget` tokens from the caller,
    /// who becomes its requester (approve the marketplace first).
    /// @param p the task's parameters, immutable afterwards
    /// @return taskId the new task's id (ids start at 1)
    function createTask(TaskParams calldata p) external nonReentrant returns (uint256 taskId) {
        uint256 escrow = _validateParams(p);
        // Cannot overflow: one increment per task creation.
        unchecked {
            taskId = ++taskCount;
        }
        Task storage t = _tasks[taskId];
        t.requester = msg.sender;
        t.status = TaskStatus.Active;
        t.rounds = p.rounds;
        t.aggregator = p.aggregator;
        t.commitWindow = p.commitWindow;
        t.revealWindow = p.revealWindow;
        t.settleWindow = p.settleWindow;
        t.arbiter = p.arbiter;
        t.challengeWindow = p.challengeWindow;
        t.maxSamples = p.maxSamples;
        t.slashBps = p.slashBps;
        t.roundBudget = p.roundBudget;
        t.minStake = p.minStake;
        t.settleBond = p.settleBond;
        t.specCidHash = keccak256(bytes(p.specCid));
        t.initialModelCidHash = keccak256(bytes(p.initialModelCid));
        t.validationSha256 = p.validationSha256;
        emit TaskCreated(taskId, msg.sender, p);
        token.safeTransferFrom(msg.sender, address(this), escrow);
    }

    /// @notice Cancels a task before its first round is opened and refunds the whole budget.
    /// @dev Requester only. Participants who joined can then withdraw their stakes.
    /// @param taskId the task to cancel
    function cancel(uint256 taskId) external nonReentrant {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.requester) revert MarketplaceNotRequester(taskId, msg.sender);
        if (t.status != TaskStatus.Active || t.lastRound != 0) {
            revert MarketplaceWrongPhase(taskId, t.lastRound, uint8(_phase(taskId, t)));
        }
        uint256 amount = _escrow(t);
        t.status = TaskStatus.Cancelled;
        // casting to 'uint128' is safe because createTask rejects escrows above uint128
        // forge-lint: disable-next-line(unsafe-typecast)
        t.totalRefunded = uint128(amount);
        emit TaskCancelled(taskId, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Pays the requester what is owed back: unallocated budget plus slashed stakes.
    /// @dev Requester only, once the task is Ended or Cancelled. The first call pays
    /// `escrow - totalAllocated + totalSlashed`; a later call pays only stakes slashed since
    /// (each token is refunded once). The allocated part stays in the contract for claims.
    /// @param taskId the finished task
    function refund(uint256 taskId) external nonReentrant {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.requester) revert MarketplaceNotRequester(taskId, msg.sender);
        _finalizeIfDue(taskId, t);
        _requireFinished(taskId, t);
        uint256 owed = _escrow(t) + t.totalSlashed - t.totalAllocated - t.totalRefunded;
        if (owed == 0) revert MarketplaceNothingToRefund(taskId);
        // casting to 'uint128' is safe because owed <= escrow + totalSlashed - totalRefunded
        // forge-lint: disable-next-line(unsafe-typecast)
        t.totalRefunded += uint128(owed);
        emit BudgetRefunded(taskId, msg.sender, owed);
        token.safeTransfer(msg.sender, owed);
    }

    /// @notice Announces where the task's validation set can be fetched, so that anyone can
    /// audit every round (DESIGN: published when the task ends, or when a challenge needs it).
    /// @dev Requester only; stores nothing. Its bytes must hash to `validationSha256`, which
    /// auditors check off-chain. May be repeated (e.g. after re-pinning); the latest counts.
    /// @param taskId the task
    /// @param cid the IPFS CID of the validation set
    function publishValidation(uint256 taskId, string calldata cid) external {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.requester) revert MarketplaceNotRequester(taskId, msg.sender);
        emit ValidationPublished(taskId, cid);
    }

    // ---------------------------------------------------------------- participant

    /// @notice Joins a task with a stake of at least `minStake` (approve the marketplace first).
    /// @dev Once per address; allowed while the task is running, including mid-task.
    /// @param taskId the task to join
    /// @param stake the amount to stake
    function join(uint256 taskId, uint256 stake) external nonReentrant {
        Task storage t = _existingTask(taskId);
        Phase ph = _phase(taskId, t);
        if (ph == Phase.Ended || ph == Phase.Cancelled) {
            revert MarketplaceWrongPhase(taskId, t.lastRound, uint8(ph));
        }
        if (stake < t.minStake) revert MarketplaceStakeTooLow(taskId, stake, t.minStake);
        if (stake > type(uint112).max) {
            revert MarketplaceStakeTooHigh(taskId, stake, type(uint112).max);
        }
        Participant storage p = _participants[taskId][msg.sender];
        if (p.joined) revert MarketplaceAlreadyJoined(taskId, msg.sender);
        p.joined = true;
        // casting to 'uint112' is safe because stake <= type(uint112).max was checked above
        // forge-lint: disable-next-line(unsafe-typecast)
        p.stake = uint112(stake);
        _revealedBits[taskId][msg.sender][0] = 1;
        emit ParticipantJoined(taskId, msg.sender, stake);
        token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @notice Commits to this round's update before the commit deadline.
    /// @dev commitment = keccak256(abi.encode(taskId, round, keccak256(bytes(cid)), sha256Digest,
    /// numSamples, participant, salt)) with types (uint256, uint32, bytes32, bytes32, uint32,
    /// address, bytes32); see `commitmentFor`. Joined participants only, once per round.
    /// @param taskId the task
    /// @param commitment the hash binding task, round, update and participant
    function commit(uint256 taskId, bytes32 commitment) external {
        Task storage t = _tasks[taskId];
        (uint32 r, Round storage rd) = _openRound(taskId, t);
        uint64 commitDeadline = rd.openedAt + uint64(t.commitWindow);
        if (block.timestamp > commitDeadline) {
            revert MarketplaceTooLate(taskId, r, commitDeadline);
        }
        if (!_participants[taskId][msg.sender].joined) {
            revert MarketplaceNotParticipant(taskId, msg.sender);
        }
        if (commitment == bytes32(0)) revert MarketplaceZeroCommitment(taskId, r);
        mapping(address => bytes32) storage roundCommitments = _commitments[taskId][r];
        if (roundCommitments[msg.sender] != bytes32(0)) {
            revert MarketplaceAlreadyCommitted(taskId, r, msg.sender);
        }
        roundCommitments[msg.sender] = commitment;
        emit Committed(taskId, r, msg.sender, commitment);
    }

    /// @notice Opens the caller's commitment after the commit deadline, up to the reveal deadline.
    /// @param taskId the task
    /// @param cid the IPFS CID of the update
    /// @param sha256Digest the sha256 of the update's bytes
    /// @param numSamples the self-reported number of training samples, 1..maxSamples
    /// @param salt the secret salt used in the commitment
    function reveal(
        uint256 taskId,
        string calldata cid,
        bytes32 sha256Digest,
        uint32 numSamples,
        bytes32 salt
    ) external {
        Task storage t = _tasks[taskId];
        (uint32 r, Round storage rd) = _openRound(taskId, t);
        _requireRevealWindow(taskId, t, r, rd.openedAt);
        if (numSamples == 0 || numSamples > t.maxSamples) {
            revert MarketplaceInvalidSamples(taskId, numSamples, t.maxSamples);
        }
        bytes32 committed = _commitments[taskId][r][msg.sender];
        if (committed == bytes32(0)) revert MarketplaceNotCommitted(taskId, r, msg.sender);
        if (_isRevealed(taskId, r, msg.sender)) {
            revert MarketplaceAlreadyRevealed(taskId, r, msg.sender);
        }
        bytes32 expected = commitmentFor(taskId, r, cid, sha256Digest, numSamples, msg.sender, salt);
        if (expected != committed) revert MarketplaceCommitmentMismatch(taskId, r, msg.sender);
        _revealedBits[taskId][msg.sender][r >> 8] |= uint256(1) << (r & 0xff);
        emit Revealed(taskId, r, msg.sender, cid, sha256Digest, numSamples);
    }

    /// @notice Collects the caller's rewards: pays `cumulativeAmount` minus what it already
    /// claimed, against the payout root of the latest final valid settlement.
    /// @dev leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))),
    /// OpenZeppelin sorted-pair Merkle proof. Task-wide, claims never exceed the total allocated
    /// by final settlements, so even a bad root cannot drain escrow or stakes.
    /// @param taskId the task
    /// @param cumulativeAmount the caller's total entitlement over all valid rounds so far
    /// @param proof the Merkle proof of (caller, cumulativeAmount)
    function claim(uint256 taskId, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        nonReentrant
    {
        Task storage t = _existingTask(taskId);
        _finalizeIfDue(taskId, t);
        uint32 finalRound = t.lastFinalRound;
        if (finalRound == 0) revert MarketplaceNoFinalSettlement(taskId);
        bytes32 root = _rounds[taskId][finalRound].payoutRoot;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) {
            revert MarketplaceInvalidProof(taskId, msg.sender, cumulativeAmount);
        }
        uint256 already = claimed[taskId][msg.sender];
        if (cumulativeAmount <= already) {
            revert MarketplaceNothingToClaim(taskId, msg.sender, cumulativeAmount, already);
        }
        uint256 amount;
        // Cannot underflow: cumulativeAmount > already was checked just above.
        unchecked {
            amount = cumulativeAmount - already;
        }
        uint256 totalClaimedAfter = t.totalClaimed + amount;
        if (totalClaimedAfter > t.totalAllocated) {
            revert MarketplaceClaimExceedsAllocation(taskId, totalClaimedAfter, t.totalAllocated);
        }
        claimed[taskId][msg.sender] = cumulativeAmount;
        // casting to 'uint128' is safe because totalClaimedAfter <= totalAllocated, a uint128
        // forge-lint: disable-next-line(unsafe-typecast)
        t.totalClaimed = uint128(totalClaimedAfter);
        emit Claimed(taskId, msg.sender, amount, cumulativeAmount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Returns the caller's remaining stake once the task is Ended or Cancelled.
    /// @param taskId the finished task
    function withdrawStake(uint256 taskId) external nonReentrant {
        Task storage t = _existingTask(taskId);
        _finalizeIfDue(taskId, t);
        _requireFinished(taskId, t);
        Participant storage p = _participants[taskId][msg.sender];
        if (!p.joined) revert MarketplaceNotParticipant(taskId, msg.sender);
        if (p.withdrawn) revert MarketplaceStakeAlreadyWithdrawn(taskId, msg.sender);
        uint256 amount = p.stake;
        p.stake = 0;
        p.withdrawn = true;
        emit StakeWithdrawn(taskId, msg.sender, amount);
        if (amount != 0) token.safeTransfer(msg.sender, amount);
    }

    /// @notice Withdraws every bond credited to the caller (returned or won bonds).
    function withdrawCredit() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert MarketplaceNoCredit(msg.sender);
        credits[msg.sender] = 0;
        emit CreditWithdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- aggregator

    /// @notice Opens the next round on the current global model.
    /// @dev Aggregator only. The previous round must be final (finalized here if its challenge
    /// window passed unchallenged) or voided. `globalModelCid` must be the initial model for
    /// round 1, else the latest valid settlement's new model (a voided round keeps the previous).
    /// @param taskId the task
    /// @param globalModelCid the CID participants train from, compared by keccak256
    function openRound(uint256 taskId, string calldata globalModelCid) external {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.aggregator) revert MarketplaceNotAggregator(taskId, msg.sender);
        _finalizeIfDue(taskId, t);
        uint32 last = t.lastRound;
        if (t.status != TaskStatus.Active || last >= t.rounds) {
            revert MarketplaceWrongPhase(taskId, last, uint8(_phase(taskId, t)));
        }
        if (last != 0) {
            RoundStatus previous = _rounds[taskId][last].status;
            if (previous != RoundStatus.Final && previous != RoundStatus.Voided) {
                revert MarketplaceWrongPhase(taskId, last, uint8(_phase(taskId, t)));
            }
        }
        // Cannot overflow: last < rounds <= MAX_ROUNDS.
        uint32 r;
        unchecked {
            r = last + 1;
        }
        bytes32 given = keccak256(bytes(globalModelCid));
        bytes32 expected = _expectedModel(taskId, t);
        if (given != expected) revert MarketplaceModelMismatch(taskId, r, expected, given);
        t.lastRound = r;
        Round storage rd = _rounds[taskId][r];
        rd.openedAt = uint40(block.timestamp);
        rd.status = RoundStatus.Open;
        uint64 commitDeadline = uint64(block.timestamp) + t.commitWindow;
        uint64 revealDeadline = commitDeadline + t.revealWindow;
        emit RoundOpened(
            taskId,
            r,
            globalModelCid,
            commitDeadline,
            revealDeadline,
            revealDeadline + t.settleWindow
        );
    }

    /// @notice Settles the current round after its reveal deadline and before its settle
    /// deadline, posting `settleBond` (approve the marketplace first).
    /// @param taskId the task
    /// @param newGlobalCid the CID of the aggregated model (the next round's global model)
    /// @param reportCid the CID of the valuation report (JSON on IPFS)
    /// @param payoutRoot the root of the CUMULATIVE payout tree over all valid rounds so far
    /// @param totalPaid what this round pays in total, at most roundBudget
    function settle(
        uint256 taskId,
        string calldata newGlobalCid,
        string calldata reportCid,
        bytes32 payoutRoot,
        uint256 totalPaid
    ) external nonReentrant {
        Task storage t = _tasks[taskId];
        if (msg.sender != t.aggregator) revert MarketplaceNotAggregator(taskId, msg.sender);
        (uint32 r, Round storage rd) = _openRound(taskId, t);
        uint64 revealDeadline = rd.openedAt + uint64(t.commitWindow) + t.revealWindow;
        if (block.timestamp <= revealDeadline) {
            revert MarketplaceTooEarly(taskId, r, revealDeadline);
        }
        uint64 settleDeadline = revealDeadline + t.settleWindow;
        if (block.timestamp > settleDeadline) revert MarketplaceTooLate(taskId, r, settleDeadline);
        if (totalPaid > t.roundBudget) {
            revert MarketplaceOverBudget(taskId, r, totalPaid, t.roundBudget);
        }
        rd.settledAt = uint40(block.timestamp);
        rd.status = RoundStatus.Settled;
        // casting to 'uint128' is safe because totalPaid <= roundBudget, a uint128
        // forge-lint: disable-next-line(unsafe-typecast)
        rd.totalPaid = uint128(totalPaid);
        rd.payoutRoot = payoutRoot;
        rd.newGlobalCidHash = keccak256(bytes(newGlobalCid));
        emit RoundSettled(
            taskId,
            r,
            newGlobalCid,
            reportCid,
            payoutRoot,
            totalPaid,
            uint64(block.timestamp) + t.challengeWindow
        );
        uint256 bond = t.settleBond;
        if (bond != 0) token.safeTransferFrom(msg.sender, address(this), bond);
    }

    // ---------------------------------------------------------------- anyone

    /// @notice Disputes a settlement during its challenge window, posting `settleBond`.
    /// @dev Anyone but the aggregator; once per settlement. A challenged settlement pays
    /// nothing until resolved.
    /// @param taskId the task
    /// @param round the settled round
    /// @param evidenceCid the CID of the challenger's evidence (e.g. an audit report)
    function challenge(uint256 taskId, uint32 round, string calldata evidenceCid)
        external
        nonReentrant
    {
        Task storage t = _existingTask(taskId);
        if (msg.sender == t.aggregator) {
            revert MarketplaceAggregatorCannotChallenge(taskId, msg.sender);
        }
        Round storage rd = _rounds[taskId][round];
        if (rd.status != RoundStatus.Settled) {
            revert MarketplaceWrongPhase(taskId, round, uint8(_phase(taskId, t)));
        }
        uint64 challengeDeadline = uint64(rd.settledAt) + t.challengeWindow;
        if (block.timestamp > challengeDeadline) {
            revert MarketplaceTooLate(taskId, round, challengeDeadline);
        }
        rd.status = RoundStatus.Challenged;
        rd.challenger = msg.sender;
        emit SettlementChallenged(taskId, round, msg.sender, evidenceCid);
        uint256 bond = t.settleBond;
        if (bond != 0) token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice Decides a challenge. Upheld: the settlement is voided (pays nothing, the budget
    /// stays unspent, the model stays the previous one) and both bonds go to the challenger.
    /// Rejected: the settlement becomes final and both bonds go to the aggregator.
    /// @dev The arbiter, or the requester when the task has no arbiter. Bonds are credited
    /// (pull payment via `withdrawCredit`).
    /// @param taskId the task
    /// @param round the challenged round
    /// @param upheld whether the challenge is right
    function resolve(uint256 taskId, uint32 round, bool upheld) external {
        Task storage t = _existingTask(taskId);
        address resolver = t.arbiter == address(0) ? t.requester : t.arbiter;
        if (msg.sender != resolver) revert MarketplaceNotResolver(taskId, msg.sender);
        Round storage rd = _rounds[taskId][round];
        if (rd.status != RoundStatus.Challenged) {
            revert MarketplaceWrongPhase(taskId, round, uint8(_phase(taskId, t)));
        }
        uint256 bonds = 2 * uint256(t.settleBond);
        if (upheld) {
            rd.status = RoundStatus.Voided;
            emit ChallengeResolved(taskId, round, true, msg.sender);
            _credit(rd.challenger, bonds, taskId, round);
            _endIfLastRound(taskId, t, round);
        } else {
            emit ChallengeResolved(taskId, round, false, msg.sender);
            _makeFinal(taskId, t, round, rd);
            _credit(t.aggregator, bonds, taskId, round);
            _endIfLastRound(taskId, t, round);
        }
    }

    /// @notice Makes the latest settlement final once its challenge window passed unchallenged,
    /// credits the aggregator's bond back, and ends the task after its last round.
    /// @dev Anyone. The same happens lazily inside openRound, claim, withdrawStake and refund.
    /// @param taskId the task
    function finalize(uint256 taskId) external {
        Task storage t = _existingTask(taskId);
        if (!_finalizeIfDue(taskId, t)) {
            revert MarketplaceWrongPhase(taskId, t.lastRound, uint8(_phase(taskId, t)));
        }
    }

    /// @notice Slashes `slashBps` of a participant's remaining stake for committing in `round`
    /// without revealing; the slashed tokens are refunded to the requester.
    /// @dev Anyone, after that round's reveal deadline, once per (round, participant), as long
    /// as the participant has not withdrawn its stake.
    /// @param taskId the task
    /// @param round the round in which the participant committed and did not reveal
    /// @param participant the participant to slash
    function slash(uint256 taskId, uint32 round, address participant) external {
        Task storage t = _existingTask(taskId);
        Round storage rd = _rounds[taskId][round];
        if (rd.status == RoundStatus.None) revert MarketplaceUnknownRound(taskId, round);
        uint64 revealDeadline = rd.openedAt + uint64(t.commitWindow) + t.revealWindow;
        if (block.timestamp <= revealDeadline) {
            revert MarketplaceTooEarly(taskId, round, revealDeadline);
        }
        if (_commitments[taskId][round][participant] == bytes32(0)) {
            revert MarketplaceNotCommitted(taskId, round, participant);
        }
        if (_isRevealed(taskId, round, participant)) {
            revert MarketplaceAlreadyRevealed(taskId, round, participant);
        }
        if (_slashed[taskId][round][participant]) {
            revert MarketplaceAlreadySlashed(taskId, round, participant);
        }
        Participant storage p = _participants[taskId][participant];
        if (p.withdrawn) revert MarketplaceStakeAlreadyWithdrawn(taskId, participant);
        uint256 amount = uint256(p.stake) * t.slashBps / BPS;
        if (amount == 0) revert MarketplaceNothingToSlash(taskId, round, participant);
        _slashed[taskId][round][participant] = true;
        // Safe unchecked: slashBps <= BPS, so amount <= stake (no underflow), and stake +
        // slashedTotal never exceeds the original stake, a uint112 (no overflow). The casts to
        // uint112 are safe for the same reason (amount <= stake, a uint112).
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            p.stake -= uint112(amount);
            // forge-lint: disable-next-line(unsafe-typecast)
            p.slashedTotal += uint112(amount);
        }
        // casting to 'uint128' is safe because amount <= stake, a uint112 (the sum is checked)
        // forge-lint: disable-next-line(unsafe-typecast)
        t.totalSlashed += uint128(amount);
        emit ParticipantSlashed(taskId, round, participant, amount);
    }

    /// @notice Ends a task whose current round was not settled by its settle deadline (liveness).
    /// @dev Anyone. Stakes can then be withdrawn and the unallocated budget refunded.
    /// @param taskId the task
    function windDown(uint256 taskId) external {
        Task storage t = _existingTask(taskId);
        (uint32 r, Round storage rd) = _openRound(taskId, t);
        uint64 settleDeadline =
            rd.openedAt + uint64(t.commitWindow) + t.revealWindow + t.settleWindow;
        if (block.timestamp <= settleDeadline) {
            revert MarketplaceTooEarly(taskId, r, settleDeadline);
        }
        t.status = TaskStatus.Ended;
        emit TaskEnded(taskId, 1);
    }

    // ---------------------------------------------------------------- views

    /// @notice Everything stored about a task (CIDs as keccak256 hashes; strings are in events).
    /// @param taskId the task
    /// @return info the task's parameters, requester, status, last round and totals
    function getTask(uint256 taskId) external view returns (TaskInfo memory info) {
        Task storage t = _tasks[taskId];
        info.requester = t.requester;
        info.status = uint8(t.status);
        info.lastRound = t.lastRound;
        info.lastFinalRound = t.lastFinalRound;
        info.specCidHash = t.specCidHash;
        info.initialModelCidHash = t.initialModelCidHash;
        info.modelCidHash = _expectedModel(taskId, t);
        info.validationSha256 = t.validationSha256;
        info.rounds = t.rounds;
        info.roundBudget = t.roundBudget;
        info.minStake = t.minStake;
        info.commitWindow = t.commitWindow;
        info.revealWindow = t.revealWindow;
        info.settleWindow = t.settleWindow;
        info.challengeWindow = t.challengeWindow;
        info.aggregator = t.aggregator;
        info.arbiter = t.arbiter;
        info.settleBond = t.settleBond;
        info.slashBps = t.slashBps;
        info.maxSamples = t.maxSamples;
        info.escrow = _escrow(t);
        info.totalAllocated = t.totalAllocated;
        info.totalClaimed = t.totalClaimed;
        info.totalSlashed = t.totalSlashed;
        info.totalRefunded = t.totalRefunded;
        info.finalPayoutRoot = _rounds[taskId][t.lastFinalRound].payoutRoot;
    }

    /// @notice Everything stored or derived about a round (zeroes for a round never opened).
    /// @dev `status` is the stored RoundStatus: a settlement whose window passed still reads
    /// Settled until something finalizes it (see `phase` for the effective phase).
    /// @param taskId the task
    /// @param round the round (1-based)
    /// @return info status, deadlines, settlement hashes and challenger
    function getRound(uint256 taskId, uint32 round) external view returns (RoundInfo memory info) {
        Task storage t = _tasks[taskId];
        Round storage rd = _rounds[taskId][round];
        info.status = uint8(rd.status);
        if (rd.status == RoundStatus.None) return info;
        info.openedAt = rd.openedAt;
        info.commitDeadline = info.openedAt + t.commitWindow;
        info.revealDeadline = info.commitDeadline + t.revealWindow;
        info.settleDeadline = info.revealDeadline + t.settleWindow;
        if (rd.settledAt != 0) {
            info.settledAt = rd.settledAt;
            info.challengeDeadline = info.settledAt + t.challengeWindow;
        }
        info.totalPaid = rd.totalPaid;
        info.payoutRoot = rd.payoutRoot;
        info.newGlobalCidHash = rd.newGlobalCidHash;
        info.challenger = rd.challenger;
    }

    /// @notice A participant's standing in a task.
    /// @param taskId the task
    /// @param account the participant
    /// @return stake the stake still held, joined whether it joined, slashedTotal what it lost,
    /// withdrawn whether it took its stake back
    function participantOf(uint256 taskId, address account)
        external
        view
        returns (uint256 stake, bool joined, uint256 slashedTotal, bool withdrawn)
    {
        Participant storage p = _participants[taskId][account];
        return (p.stake, p.joined, p.slashedTotal, p.withdrawn);
    }

    /// @notice An account's commitment in a round and whether it was revealed.
    /// @param taskId the task
    /// @param round the round
    /// @param account the participant
    /// @return commitment zero when it did not commit, revealed whether it opened it
    function commitmentOf(uint256 taskId, uint32 round, address account)
        external
        view
        returns (bytes32 commitment, bool revealed)
    {
        return (_commitments[taskId][round][account], _isRevealed(taskId, round, account));
    }

    /// @notice Whether (round, participant) was already slashed.
    /// @param taskId the task
    /// @param round the round
    /// @param participant the participant
    /// @return true once slashed
    function isSlashed(uint256 taskId, uint32 round, address participant)
        external
        view
        returns (bool)
    {
        return _slashed[taskId][round][participant];
    }

    /// @notice The effective phase of a task, taking elapsed deadlines into account.
    /// @param taskId the task
    /// @return the Phase as uint8: None, Created, Commit, Reveal, Settle, Challenge, Final, Ended,
    /// Cancelled
    function phase(uint256 taskId) external view returns (uint8) {
        return uint8(_phase(taskId, _tasks[taskId]));
    }

    /// @notice The commitment a participant must post for a reveal of these values.
    /// @param taskId the task
    /// @param round the round
    /// @param cid the update's CID
    /// @param sha256Digest the update's sha256
    /// @param numSamples the self-reported number of samples
    /// @param participant the committing account
    /// @param salt a secret random salt
    /// @return keccak256(abi.encode(taskId, round, keccak256(bytes(cid)), sha256Digest,
    /// numSamples, participant, salt))
    function commitmentFor(
        uint256 taskId,
        uint32 round,
        string calldata cid,
        bytes32 sha256Digest,
        uint32 numSamples,
        address participant,
        bytes32 salt
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                taskId, round, keccak256(bytes(cid)), sha256Digest, numSamples, participant, salt
            )
        );
    }

    // ---------------------------------------------------------------- internals

    /// @dev Checks createTask's parameters; returns the escrow, which must fit in uint128.
    function _validateParams(TaskParams calldata p) private pure returns (uint256 escrow) {
        if (p.rounds == 0 || p.rounds > MAX_ROUNDS) revert MarketplaceInvalidParameter("rounds");
        if (p.roundBudget == 0) revert MarketplaceInvalidParameter("roundBudget");
        if (p.minStake == 0 || p.minStake > type(uint112).max) {
            revert MarketplaceInvalidParameter("minStake");
        }
        if (p.commitWindow == 0) revert MarketplaceInvalidParameter("commitWindow");
        if (p.revealWindow == 0) revert MarketplaceInvalidParameter("revealWindow");
        if (p.settleWindow == 0) revert MarketplaceInvalidParameter("settleWindow");
        if (p.challengeWindow == 0) revert MarketplaceInvalidParameter("challengeWindow");
        if (p.aggregator == address(0)) revert MarketplaceInvalidParameter("aggregator");
        if (p.slashBps > BPS) revert MarketplaceInvalidParameter("slashBps");
        if (p.maxSamples == 0) revert MarketplaceInvalidParameter("maxSamples");
        if (bytes(p.initialModelCid).length == 0) {
            revert MarketplaceInvalidParameter("initialModelCid");
        }
        escrow = uint256(p.rounds) * p.roundBudget;
        if (escrow > type(uint128).max) revert MarketplaceInvalidParameter("roundBudget");
    }

    function _existingTask(uint256 taskId) private view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.status == TaskStatus.None) revert MarketplaceUnknownTask(taskId);
    }

    /// @dev The current round of an Active task, which must be Open (not settled yet).
    function _openRound(uint256 taskId, Task storage t)
        private
        view
        returns (uint32 r, Round storage rd)
    {
        r = t.lastRound;
        rd = _rounds[taskId][r];
        if (t.status != TaskStatus.Active || rd.status != RoundStatus.Open) {
            if (t.status == TaskStatus.None) revert MarketplaceUnknownTask(taskId);
            revert MarketplaceWrongPhase(taskId, r, uint8(_phase(taskId, t)));
        }
    }

    function _requireRevealWindow(uint256 taskId, Task storage t, uint32 r, uint40 openedAt)
        private
        view
    {
        uint64 commitDeadline = openedAt + uint64(t.commitWindow);
        if (block.timestamp <= commitDeadline) {
            revert MarketplaceTooEarly(taskId, r, commitDeadline);
        }
        uint64 revealDeadline = commitDeadline + t.revealWindow;
        if (block.timestamp > revealDeadline) revert MarketplaceTooLate(taskId, r, revealDeadline);
    }

    function _requireFinished(uint256 taskId, Task storage t) private view {
        if (t.status != TaskStatus.Ended && t.status != TaskStatus.Cancelled) {
            revert MarketplaceWrongPhase(taskId, t.lastRound, uint8(_phase(taskId, t)));
        }
    }

    function _escrow(Task storage t) private view returns (uint256) {
        return uint256(t.rounds) * t.roundBudget;
    }

    function _isRevealed(uint256 taskId, uint32 round, address account)
        private
        view
        returns (bool)
    {
        return _revealedBits[taskId][account][round >> 8] & (uint256(1) << (round & 0xff)) != 0;
    }

    /// @dev Finalizes the latest settlement if its challenge window passed unchallenged.
    function _finalizeIfDue(uint256 taskId, Task storage t) private returns (bool) {
        uint32 r = t.lastRound;
        if (r == 0) return false;
        Round storage rd = _rounds[taskId][r];
        if (rd.status != RoundStatus.Settled) return false;
        if (block.timestamp <= uint256(rd.settledAt) + t.challengeWindow) return false;
        _makeFinal(taskId, t, r, rd);
        _credit(t.aggregator, t.settleBond, taskId, r);
        _endIfLastRound(taskId, t, r);
        return true;
    }

    /// @dev Makes a settlement final and valid: its payout root becomes claimable, its total
    /// is allocated and its model becomes the next round's starting point.
    function _makeFinal(uint256 taskId, Task storage t, uint32 r, Round storage rd) private {
        rd.status = RoundStatus.Final;
        uint128 allocated = t.totalAllocated + rd.totalPaid;
        t.totalAllocated = allocated;
        // casting to 'uint24' is safe because r <= rounds <= MAX_ROUNDS
        // forge-lint: disable-next-line(unsafe-typecast)
        t.lastFinalRound = uint24(r);
        emit SettlementFinalized(taskId, r, rd.payoutRoot, allocated);
    }

    /// @dev The model the next round must open with: the latest final valid settlement's new
    /// model, or the initial model before any (a voided round keeps the previous model).
    function _expectedModel(uint256 taskId, Task storage t) private view returns (bytes32) {
        uint32 finalRound = t.lastFinalRound;
        if (finalRound == 0) return t.initialModelCidHash;
        return _rounds[taskId][finalRound].newGlobalCidHash;
    }

    function _endIfLastRound(uint256 taskId, Task storage t, uint32 r) private {
        if (r == t.rounds) {
            t.status = TaskStatus.Ended;
            emit TaskEnded(taskId, 0);
        }
    }

    function _credit(address account, uint256 amount, uint256 taskId, uint32 round) private {
        if (amount == 0) return;
        credits[account] += amount;
        emit CreditAdded(account, amount, taskId, round);
    }

    function _phase(uint256 taskId, Task storage t) private view returns (Phase) {
        TaskStatus status = t.status;
        if (status == TaskStatus.None) return Phase.None;
        if (status == TaskStatus.Ended) return Phase.Ended;
        if (status == TaskStatus.Cancelled) return Phase.Cancelled;
        uint32 r = t.lastRound;
        if (r == 0) return Phase.Created;
        Round storage rd = _rounds[taskId][r];
        RoundStatus rs = rd.status;
        if (rs == RoundStatus.Open) {
            uint256 commitDeadline = uint256(rd.openedAt) + t.commitWindow;
            if (block.timestamp <= commitDeadline) return Phase.Commit;
            if (block.timestamp <= commitDeadline + t.revealWindow) return Phase.Reveal;
            return Phase.Settle;
        }
        if (rs == RoundStatus.Challenged) return Phase.Challenge;
        if (rs == RoundStatus.Settled) {
            if (block.timestamp <= uint256(rd.settledAt) + t.challengeWindow) {
                return Phase.Challenge;
            }
            return r == t.rounds ? Phase.Ended : Phase.Final;
        }
        return Phase.Final;
    }
}
