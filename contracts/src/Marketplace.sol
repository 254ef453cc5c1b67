// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarketplaceErrors} from "./IMarketplaceErrors.sol";
import {IMarketplaceEvents} from "./IMarketplaceEvents.sol";
import {
    Challenge,
    ChallengeState,
    Outcome,
    Participant,
    Phase,
    Round,
    RoundClaim,
    RoundInfo,
    RoundStatus,
    Task,
    TaskInfo,
    TaskParams,
    TaskStatus
} from "./MarketplaceTypes.sol";

/// @title fedmarket Marketplace
/// @notice Federated-learning tasks paid in one ERC-20: a requester escrows `rounds * roundBudget`,
/// participants stake, the aggregator posts one bond for the task, and every round runs
/// commit -> reveal -> settle -> challenge window -> (evidence -> ruling) -> final. Each round's
/// payout root covers that round only; a final round never changes; rewards are pulled with
/// Merkle proofs, any number of final rounds per claim. docs/protocol-contract.md argues why.
/// @dev Storage holds hashes and packed counters only; CIDs and reports live in events, which are
/// enough to rebuild the ledger. No function loops over participants, challengers or rounds
/// (`claim` loops over the caller's own calldata). A settlement becomes final lazily at a
/// deterministic time: `finalize`, `openRound`, `claim`, `withdrawStake`, `refund`, `windDown`
/// and `collectChallenge` all finalize the latest settlement first when it is due.
contract Marketplace is IMarketplaceErrors, IMarketplaceEvents, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Upper bound on `TaskParams.rounds`.
    uint32 public constant MAX_ROUNDS = 1000;
    /// @notice Denominator of `slashBps`.
    uint16 public constant BPS = 10_000;
    /// @notice Upper bound on `TaskParams.slashBps`: one missed reveal costs at most half of the
    /// original stake.
    uint16 public constant MAX_SLASH_BPS = 5_000;

    /// @notice The token of budgets, stakes, bonds and rewards.
    IERC20 public immutable token;
    /// @notice Lower bound on every window of every task, in seconds.
    uint32 public immutable minWindow;
    /// @notice Number of tasks created; task ids are 1..taskCount.
    uint256 public taskCount;
    /// @notice Bonds credited to an account, withdrawn with `withdrawCredit`.
    mapping(address account => uint256) public credits;

    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 taskId => mapping(uint32 round => Round)) private _rounds;
    mapping(uint256 taskId => mapping(address account => Participant)) private _participants;
    mapping(uint256 taskId => mapping(uint32 round => mapping(address account => bytes32))) private
        _commitments;
    /// @dev Two bits per round, 128 rounds per word: bit 2*(round % 128) of word (round / 128)
    /// is set once the account revealed in that round, the bit above it once it claimed that
    /// round. Bit 0 of word 0 (round 0 does not exist) is set at join so that reveals and claims
    /// in rounds 1..127 update a non-zero slot, which is much cheaper than initialising one.
    mapping(uint256 taskId => mapping(address account => mapping(uint256 word => uint256))) private
        _roundBits;
    mapping(uint256 taskId => mapping(uint32 round => mapping(address account => bool))) private
        _slashed;
    mapping(uint256 taskId => mapping(uint32 round => mapping(address account => Challenge)))
        private _challenges;

    /// @param rewardToken the ERC-20 every amount of this marketplace is denominated in
    /// @param minWindow_ the shortest window (seconds) any task may use; > 0
    constructor(IERC20 rewardToken, uint32 minWindow_) {
        if (minWindow_ == 0) revert MarketplaceInvalidParameter("minWindow");
        token = rewardToken;
        minWindow = minWindow_;
    }

    // ---------------------------------------------------------------- requester

    /// @notice Creates a task and escrows `p.rounds * p.roundBudget` tokens from the caller,
    /// who becomes its requester (approve the marketplace first).
    /// @dev Rejects out-of-range parameters and overlapping roles (requester, aggregator and
    /// arbiter must be three different accounts). The aggregator must open round 1 within
    /// `settleWindow`, else anyone can wind the task down.
    /// @param p the task's parameters, immutable afterwards
    /// @return taskId the new task's id (ids start at 1)
    function createTask(TaskParams memory p) external nonReentrant returns (uint256 taskId) {
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
        t.resolveWindow = p.resolveWindow;
        t.claimWindow = p.claimWindow;
        t.roundBudget = p.roundBudget;
        t.minStake = p.minStake;
        t.settleBond = p.settleBond;
        t.createdAt = uint40(block.timestamp);
        t.maxSamples = p.maxSamples;
        t.slashBps = p.slashBps;
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
        Task storage t = _requesterTask(taskId);
        if (t.status != TaskStatus.Active || t.lastRound != 0) {
            _revertWrongPhase(taskId, t, t.lastRound);
        }
        uint256 amount = _escrow(t);
        t.status = TaskStatus.Cancelled;
        t.endedAt = uint40(block.timestamp);
        // casting to 'uint128' is safe because createTask rejects escrows above uint128
        // forge-lint: disable-next-line(unsafe-typecast)
        t.totalRefunded = uint128(amount);
        emit TaskCancelled(taskId, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Pays the requester what is owed back: unallocated budget, slashed stakes and
    /// forfeited aggregator bonds, and, once the claim window closed, unclaimed allocations.
    /// @dev Requester only, once the task is Ended or Cancelled; a task that opened a round
    /// must have its validation set published first (`publishValidation`). Each token is
    /// refunded once: a later call pays only what became owed since (a later slash, the
    /// claim deadline passing).
    /// @param taskId the finished task
    function refund(uint256 taskId) external nonReentrant {
        Task storage t = _requesterTask(taskId);
        _finalizeIfDue(taskId, t);
        _requireFinished(taskId, t);
        if (t.lastRound != 0 && !t.validationPublished) {
            revert MarketplaceValidationNotPublished(taskId);
        }
        uint256 owed = _refundable(t);
        if (owed == 0) revert MarketplaceNothingToRefund(taskId);
        t.totalRefunded += SafeCast.toUint128(owed);
        emit BudgetRefunded(taskId, msg.sender, owed);
        token.safeTransfer(msg.sender, owed);
    }

    /// @notice Announces where the task's validation set can be fetched, so that anyone can
    /// audit every round; required before the final refund of a task that ran a round.
    /// @dev Requester only, any time. Its bytes must hash to `validationSha256`, which auditors
    /// check off-chain. May be repeated (e.g. after re-pinning); the latest counts.
    /// @param taskId the task
    /// @param cid the IPFS CID of the validation set
    function publishValidation(uint256 taskId, string calldata cid) external {
        Task storage t = _requesterTask(taskId);
        t.validationPublished = true;
        emit ValidationPublished(taskId, cid);
    }

    // ---------------------------------------------------------------- participant

    /// @notice Joins a task with a stake of at least `minStake` (approve the marketplace first).
    /// @dev Once per address, not the task's aggregator or arbiter; allowed while the task is
    /// running, including mid-task.
    /// @param taskId the task to join
    /// @param stake the amount to stake
    function join(uint256 taskId, uint256 stake) external nonReentrant {
        Task storage t = _existingTask(taskId);
        Phase ph = _phase(taskId, t);
        if (ph == Phase.Ended || ph == Phase.Cancelled) {
            revert MarketplaceWrongPhase(taskId, t.lastRound, uint8(ph));
        }
        if (msg.sender == t.aggregator || msg.sender == t.arbiter) {
            revert MarketplaceRoleConflict(taskId, msg.sender);
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
        _roundBits[taskId][msg.sender][0] = 1;
        emit ParticipantJoined(taskId, msg.sender, stake);
        token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @notice Commits to this round's update before the commit deadline.
    /// @dev commitment = keccak256(abi.encode(taskId, round, keccak256(bytes(cid)), sha256Digest,
    /// numSamples, participant, salt)) with types (uint256, uint32, bytes32, bytes32, uint32,
    /// address, bytes32); see `commitmentFor`. Joined participants only, once per round. A
    /// commitment not revealed in time is slashed (by `slash`, or at the latest at withdrawal).
    /// @param taskId the task
    /// @param commitment the hash binding task, round, update and participant
    function commit(uint256 taskId, bytes32 commitment) external {
        Task storage t = _tasks[taskId];
        (uint32 r, Round storage rd) = _currentOpenRound(taskId, t);
        uint64 commitDeadline = rd.openedAt + uint64(t.commitWindow);
        _requireNotAfter(taskId, r, commitDeadline);
        Participant storage p = _participants[taskId][msg.sender];
        if (!p.joined) revert MarketplaceNotParticipant(taskId, msg.sender);
        if (commitment == bytes32(0)) revert MarketplaceZeroCommitment(taskId, r);
        mapping(address => bytes32) storage roundCommitments = _commitments[taskId][r];
        if (roundCommitments[msg.sender] != bytes32(0)) {
            revert MarketplaceAlreadyCommitted(taskId, r, msg.sender);
        }
        roundCommitments[msg.sender] = commitment;
        // Cannot overflow: one increment per round committed, rounds <= MAX_ROUNDS < 2^16.
        unchecked {
            ++p.unrevealed;
        }
        emit Committed(taskId, r, msg.sender, commitment);
    }

    /// @notice Opens the caller's commitment after the commit deadline, up to the reveal deadline.
    /// @dev Only accounts that revealed in a round can be paid for it (see `claim`).
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
        (uint32 r, Round storage rd) = _currentOpenRound(taskId, t);
        _requireRevealWindow(taskId, t, r, rd.openedAt);
        if (numSamples == 0 || numSamples > t.maxSamples) {
            revert MarketplaceInvalidSamples(taskId, numSamples, t.maxSamples);
        }
        bytes32 committed = _commitments[taskId][r][msg.sender];
        if (committed == bytes32(0)) revert MarketplaceNotCommitted(taskId, r, msg.sender);
        bytes32 expected = commitmentFor(taskId, r, cid, sha256Digest, numSamples, msg.sender, salt);
        if (expected != committed) revert MarketplaceCommitmentMismatch(taskId, r, msg.sender);
        _markRevealed(taskId, r);
        emit Revealed(taskId, r, msg.sender, cid, sha256Digest, numSamples);
    }

    /// @notice Collects the caller's rewards for any number of FINAL rounds with one transfer.
    /// @dev Per round: the round is Final, the caller revealed in it and has not claimed it yet,
    /// `proof` shows leaf = keccak256(bytes.concat(keccak256(abi.encode(uint256 taskId, uint32
    /// round, address account, uint256 amount)))) under the round's payout root (OpenZeppelin
    /// sorted-pair proof; see README), and the round's claims stay within its totalPaid.
    /// Open while the task is active and until `endedAt + claimWindow` after it ended.
    /// @param taskId the task
    /// @param claims one entry per round (any order, each round once)
    function claim(uint256 taskId, RoundClaim[] calldata claims) external nonReentrant {
        Task storage t = _existingTask(taskId);
        _finalizeIfDue(taskId, t);
        _requireClaimsOpen(taskId, t);
        if (claims.length == 0) revert MarketplaceNothingToClaim(taskId, 0, msg.sender);
        uint256 total = 0;
        for (uint256 i = 0; i < claims.length; ++i) {
            total += _claimRound(taskId, claims[i]);
        }
        // casting to 'uint128' is safe because total <= the claimed rounds' totalPaid, whose
        // sum is at most the escrow, a uint128 (the addition is checked)
        // forge-lint: disable-next-line(unsafe-typecast)
        t.totalClaimed += uint128(total);
        token.safeTransfer(msg.sender, total);
    }

    /// @notice Returns the caller's remaining stake once the task is Ended or Cancelled, after
    /// slashing every commitment it left unrevealed and unslashed.
    /// @dev Pending slashes are applied first (one `ParticipantSlashed` with round 0), so an
    /// unrevealed commitment can never escape its slash by withdrawing.
    /// @param taskId the finished task
    function withdrawStake(uint256 taskId) external nonReentrant {
        Task storage t = _existingTask(taskId);
        _finalizeIfDue(taskId, t);
        _requireFinished(taskId, t);
        Participant storage p = _participants[taskId][msg.sender];
        if (!p.joined) revert MarketplaceNotParticipant(taskId, msg.sender);
        if (p.withdrawn) revert MarketplaceStakeAlreadyWithdrawn(taskId, msg.sender);
        _slashPending(taskId, t, p, msg.sender);
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

    /// @notice Opens the next round on the current global model; the first call (and the
    /// first after a forfeited bond) takes `settleBond` from the aggregator as its bond.
    /// @dev Aggregator only (approve the marketplace for the bond). Round 1 must be opened
    /// within `settleWindow` of the task's creation, round r+1 within `settleWindow` of round
    /// r becoming final (its effective final time); later, anyone can `windDown` the task.
    /// `globalModelCid` must be the initial model for round 1, else the latest final
    /// settlement's new model (the arbiter's, when it corrected the settlement).
    /// @param taskId the task
    /// @param globalModelCid the CID participants train from, compared by keccak256
    function openRound(uint256 taskId, string calldata globalModelCid) external nonReentrant {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.aggregator) revert MarketplaceNotAggregator(taskId, msg.sender);
        _finalizeIfDue(taskId, t);
        uint32 last = t.lastRound;
        uint64 deadline = _openDeadline(taskId, t);
        if (t.status != TaskStatus.Active || last >= t.rounds || deadline == 0) {
            _revertWrongPhase(taskId, t, last);
        }
        // Cannot overflow: last < rounds <= MAX_ROUNDS.
        uint32 r;
        unchecked {
            r = last + 1;
        }
        _requireNotAfter(taskId, r, deadline);
        bytes32 given = keccak256(bytes(globalModelCid));
        bytes32 expected = _expectedModel(taskId, t);
        // slither-disable-next-line timestamp -- CID hashes (slither taints all of _rounds)
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
        if (!t.aggregatorBondHeld) _postAggregatorBond(taskId, t);
    }

    /// @notice Settles the current round after its reveal deadline and before its settle
    /// deadline. The aggregator's bond (posted at openRound) stands behind it.
    /// @dev `payoutRoot` covers THIS round's payouts only; claims are further limited to
    /// accounts that revealed in this round and to `totalPaid` in total.
    /// @param taskId the task
    /// @param newGlobalCid the CID of the aggregated model (the next round's global model)
    /// @param reportCid the CID of the valuation report (JSON on IPFS)
    /// @param payoutRoot the root of this round's payout tree (see README)
    /// @param totalPaid what this round pays in total, at most roundBudget
    function settle(
        uint256 taskId,
        string calldata newGlobalCid,
        string calldata reportCid,
        bytes32 payoutRoot,
        uint256 totalPaid
    ) external {
        Task storage t = _tasks[taskId];
        if (msg.sender != t.aggregator) revert MarketplaceNotAggregator(taskId, msg.sender);
        (uint32 r, Round storage rd) = _currentOpenRound(taskId, t);
        uint64 revealDeadline = rd.openedAt + uint64(t.commitWindow) + t.revealWindow;
        _requireAfter(taskId, r, revealDeadline);
        uint64 settleDeadline = revealDeadline + t.settleWindow;
        _requireNotAfter(taskId, r, settleDeadline);
        _requireWithinBudget(taskId, t, r, totalPaid);
        rd.settledAt = uint40(block.timestamp);
        rd.status = RoundStatus.Settled;
        _writeSettlement(rd, newGlobalCid, payoutRoot, totalPaid);
        emit RoundSettled(
            taskId,
            r,
            newGlobalCid,
            reportCid,
            payoutRoot,
            totalPaid,
            uint64(block.timestamp) + t.challengeWindow
        );
    }

    // ---------------------------------------------------------------- disputes

    /// @notice Disputes a settlement during its challenge window, posting `settleBond` and a
    /// commitment to the evidence (revealed with `revealEvidence` after the window closes).
    /// @dev Anyone but the aggregator and the arbiter, once per account and settlement; any
    /// number of accounts may challenge the same settlement. commitment =
    /// keccak256(abi.encode(uint256 taskId, uint32 round, keccak256(bytes(evidenceCid)),
    /// address challenger, bytes32 salt)); see `evidenceCommitmentFor`.
    /// @param taskId the task
    /// @param round the settled round
    /// @param evidenceCommitment the commitment to the evidence CID, bound to the caller
    function challenge(uint256 taskId, uint32 round, bytes32 evidenceCommitment)
        external
        nonReentrant
    {
        Task storage t = _existingTask(taskId);
        if (msg.sender == t.aggregator || msg.sender == t.arbiter) {
            revert MarketplaceRoleConflict(taskId, msg.sender);
        }
        Round storage rd = _rounds[taskId][round];
        RoundStatus status = rd.status;
        if (status != RoundStatus.Settled && status != RoundStatus.Challenged) {
            _revertWrongPhase(taskId, t, round);
        }
        uint64 challengeDeadline = rd.settledAt + uint64(t.challengeWindow);
        _requireNotAfter(taskId, round, challengeDeadline);
        if (evidenceCommitment == bytes32(0)) revert MarketplaceZeroCommitment(taskId, round);
        Challenge storage c = _challenges[taskId][round][msg.sender];
        if (c.state != ChallengeState.None) {
            revert MarketplaceAlreadyChallenged(taskId, round, msg.sender);
        }
        c.commitment = evidenceCommitment;
        c.state = ChallengeState.Committed;
        rd.status = RoundStatus.Challenged;
        ++rd.challengers;
        emit SettlementChallenged(taskId, round, msg.sender, evidenceCommitment);
        token.safeTransferFrom(msg.sender, address(this), t.settleBond);
    }

    /// @notice Opens the caller's evidence commitment, after the challenge window closed and
    /// within `revealWindow` of it. A challenge whose evidence is not revealed loses its bond
    /// to the aggregator.
    /// @param taskId the task
    /// @param round the challenged round
    /// @param evidenceCid the CID of the evidence (e.g. an audit report)
    /// @param salt the secret salt used in the commitment
    function revealEvidence(uint256 taskId, uint32 round, string calldata evidenceCid, bytes32 salt)
        external
    {
        Task storage t = _existingTask(taskId);
        Round storage rd = _rounds[taskId][round];
        if (rd.status != RoundStatus.Challenged) {
            _revertWrongPhase(taskId, t, round);
        }
        (uint64 challengeDeadline, uint64 evidenceDeadline,) = _disputeDeadlines(t, rd);
        _requireAfter(taskId, round, challengeDeadline);
        _requireNotAfter(taskId, round, evidenceDeadline);
        Challenge storage c = _challenges[taskId][round][msg.sender];
        if (c.state != ChallengeState.Committed) {
            revert MarketplaceNotChallenger(taskId, round, msg.sender);
        }
        if (evidenceCommitmentFor(taskId, round, evidenceCid, msg.sender, salt) != c.commitment) {
            revert MarketplaceEvidenceMismatch(taskId, round, msg.sender);
        }
        c.state = ChallengeState.Revealed;
        ++rd.revealedChallengers;
        emit EvidenceRevealed(taskId, round, msg.sender, evidenceCid);
    }

    /// @notice The arbiter rejects the challenges: the settlement becomes final as settled and
    /// every challenger bond is credited to the aggregator.
    /// @dev Arbiter only, after the evidence deadline and until `resolveWindow` after it, when
    /// at least one challenger revealed evidence.
    /// @param taskId the task
    /// @param round the challenged round
    function reject(uint256 taskId, uint32 round) external {
        (Task storage t, Round storage rd) = _ruling(taskId, round);
        emit ChallengeRejected(taskId, round, msg.sender);
        _finalize(taskId, t, round, rd, Outcome.Rejected, uint64(block.timestamp));
    }

    /// @notice The arbiter upholds the challenges and replaces the settlement with a corrected
    /// one, final at once. The aggregator's bond is forfeited and split equally among the
    /// challengers that revealed evidence (the division remainder goes to the requester's
    /// refundable balance); they also get their own bonds back. Unrevealed challengers' bonds
    /// go to the aggregator.
    /// @dev Arbiter only, same window as `reject`. The corrected settlement obeys the same
    /// rules as any (this round's payouts only, totalPaid <= roundBudget, revealers only).
    /// @param taskId the task
    /// @param round the challenged round
    /// @param newGlobalCid the corrected aggregated model (the next round's global model)
    /// @param reportCid the corrected valuation report
    /// @param payoutRoot the root of the corrected payout tree of this round
    /// @param totalPaid what the corrected settlement pays in total, at most roundBudget
    function uphold(
        uint256 taskId,
        uint32 round,
        string calldata newGlobalCid,
        string calldata reportCid,
        bytes32 payoutRoot,
        uint256 totalPaid
    ) external {
        (Task storage t, Round storage rd) = _ruling(taskId, round);
        _requireWithinBudget(taskId, t, round, totalPaid);
        _writeSettlement(rd, newGlobalCid, payoutRoot, totalPaid);
        emit SettlementCorrected(
            taskId, round, newGlobalCid, reportCid, payoutRoot, totalPaid, msg.sender
        );
        _forfeitBondToChallengers(taskId, t, round, rd.revealedChallengers);
        _finalize(taskId, t, round, rd, Outcome.Corrected, uint64(block.timestamp));
    }

    /// @notice Pays a challenger of a final round that revealed its evidence: its bond plus
    /// an equal share of the aggregator's bond when the challenge was upheld, or its bond
    /// alone when the arbiter stayed silent. Rejected challenges pay nothing.
    /// @param taskId the task
    /// @param round the challenged round (finalized here first if due)
    function collectChallenge(uint256 taskId, uint32 round) external nonReentrant {
        Task storage t = _existingTask(taskId);
        _finalizeIfDue(taskId, t);
        Round storage rd = _rounds[taskId][round];
        if (rd.status != RoundStatus.Final) revert MarketplaceRoundNotFinal(taskId, round);
        Challenge storage c = _challenges[taskId][round][msg.sender];
        uint256 amount = _challengerPayout(t, rd, c.state);
        if (amount == 0) revert MarketplaceNothingToCollect(taskId, round, msg.sender);
        c.state = ChallengeState.Collected;
        emit ChallengerPaid(taskId, round, msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- anyone

    /// @notice Makes the latest settlement final once that is due: unchallenged past its
    /// challenge window; challenged but no evidence revealed past the evidence deadline; or
    /// evidence revealed and the arbiter silent past its deadline (the settlement stands).
    /// Credits the bonds accordingly and ends the task after its last round.
    /// @dev Anyone. The same happens lazily inside openRound, claim, withdrawStake, refund,
    /// windDown and collectChallenge.
    /// @param taskId the task
    function finalize(uint256 taskId) external {
        Task storage t = _existingTask(taskId);
        if (!_finalizeIfDue(taskId, t)) {
            _revertWrongPhase(taskId, t, t.lastRound);
        }
    }

    /// @notice Slashes `slashBps` of a participant's ORIGINAL stake (capped at what is left)
    /// for committing in `round` without revealing; the slashed tokens go to the requester.
    /// @dev Anyone, after that round's reveal deadline, once per (round, participant), as long
    /// as the participant has not withdrawn (withdrawal applies every pending slash itself).
    /// @param taskId the task
    /// @param round the round in which the participant committed and did not reveal
    /// @param participant the participant to slash
    function slash(uint256 taskId, uint32 round, address participant) external {
        Task storage t = _existingTask(taskId);
        Round storage rd = _rounds[taskId][round];
        if (rd.status == RoundStatus.None) revert MarketplaceUnknownRound(taskId, round);
        uint64 revealDeadline = rd.openedAt + uint64(t.commitWindow) + t.revealWindow;
        _requireAfter(taskId, round, revealDeadline);
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
        uint256 amount = _slashUnit(t, p);
        if (amount > p.stake) amount = p.stake;
        if (amount == 0) revert MarketplaceNothingToSlash(taskId, round, participant);
        _slashed[taskId][round][participant] = true;
        // Cannot underflow: the commitment was counted at commit and was neither revealed nor
        // slashed (both checked above), and withdrawal (which zeroes the counter) has not run.
        unchecked {
            --p.unrevealed;
        }
        _takeStake(taskId, t, p, round, participant, amount);
    }

    /// @notice Ends a task whose aggregator missed a deadline, forfeiting its bond to the
    /// requester: reason 1 = the open round was not settled by its settle deadline; reason 2 =
    /// round 1 was not opened within settleWindow of creation, or the next round not within
    /// settleWindow of the previous round's (effective) final time.
    /// @dev Anyone. Stakes can then be withdrawn, final rounds claimed until the claim
    /// deadline, and the rest refunded.
    /// @param taskId the task
    function windDown(uint256 taskId) external {
        Task storage t = _existingTask(taskId);
        _finalizeIfDue(taskId, t);
        uint32 r = t.lastRound;
        if (t.status != TaskStatus.Active) {
            _revertWrongPhase(taskId, t, r);
        }
        uint8 reason;
        uint64 deadline;
        Round storage rd = _rounds[taskId][r];
        if (r != 0 && rd.status == RoundStatus.Open) {
            reason = 1;
            deadline = rd.openedAt + uint64(t.commitWindow) + t.revealWindow + t.settleWindow;
        } else {
            reason = 2;
            deadline = _openDeadline(taskId, t);
            if (deadline == 0) _revertWrongPhase(taskId, t, r);
        }
        _requireAfter(taskId, r, deadline);
        _end(taskId, t, reason, uint64(block.timestamp));
        if (t.aggregatorBondHeld) _forfeitBondToRequester(taskId, t, r);
    }

    // ---------------------------------------------------------------- views

    /// @notice Everything stored about a task, plus derived deadlines (CIDs as keccak256
    /// hashes; strings are in events).
    /// @dev Like every field, `openDeadline` and `claimDeadline` derive from stored state: while
    /// the latest settlement is due but not finalized yet (lazy; see `phase`), they read 0
    /// until something (e.g. `finalize`) finalizes it.
    /// @param taskId the task
    /// @return info the task's parameters, requester, status, rounds, times and totals
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
        info.resolveWindow = t.resolveWindow;
        info.claimWindow = t.claimWindow;
        info.aggregator = t.aggregator;
        info.arbiter = t.arbiter;
        info.settleBond = t.settleBond;
        info.slashBps = t.slashBps;
        info.maxSamples = t.maxSamples;
        info.escrow = _escrow(t);
        info.totalAllocated = t.totalAllocated;
        info.totalClaimed = t.totalClaimed;
        info.totalSlashed = t.totalSlashed;
        info.totalForfeited = t.totalForfeited;
        info.totalRefunded = t.totalRefunded;
        info.createdAt = t.createdAt;
        info.endedAt = t.endedAt;
        info.validationPublished = t.validationPublished;
        info.aggregatorBondHeld = t.aggregatorBondHeld;
        if (t.status == TaskStatus.Active) {
            info.openDeadline = _openDeadline(taskId, t);
        } else if (t.status != TaskStatus.None) {
            info.claimDeadline = info.endedAt + t.claimWindow;
        }
    }

    /// @notice Everything stored or derived about a round (zeroes for a round never opened).
    /// @dev `status` is the stored RoundStatus: a settlement whose final time passed still
    /// reads Settled/Challenged until something finalizes it (see `phase`).
    /// @param taskId the task
    /// @param round the round (1-based)
    /// @return info status, outcome, deadlines, settlement hashes, totals and challenge counts
    function getRound(uint256 taskId, uint32 round) external view returns (RoundInfo memory info) {
        Task storage t = _tasks[taskId];
        Round storage rd = _rounds[taskId][round];
        info.status = uint8(rd.status);
        if (rd.status == RoundStatus.None) return info;
        info.outcome = uint8(rd.outcome);
        info.openedAt = rd.openedAt;
        info.commitDeadline = info.openedAt + t.commitWindow;
        info.revealDeadline = info.commitDeadline + t.revealWindow;
        info.settleDeadline = info.revealDeadline + t.settleWindow;
        if (rd.settledAt != 0) {
            info.settledAt = rd.settledAt;
            (info.challengeDeadline, info.evidenceDeadline, info.resolveDeadline) =
                _disputeDeadlines(t, rd);
        }
        info.finalAt = rd.finalAt;
        info.totalPaid = rd.totalPaid;
        info.totalClaimed = rd.totalClaimed;
        info.payoutRoot = rd.payoutRoot;
        info.newGlobalCidHash = rd.newGlobalCidHash;
        info.challengers = rd.challengers;
        info.revealedChallengers = rd.revealedChallengers;
    }

    /// @notice A participant's standing in a task.
    /// @param taskId the task
    /// @param account the participant
    /// @return stake the stake still held, joined whether it joined, slashedTotal what it lost,
    /// withdrawn whether it took its stake back, unrevealed its commitments neither revealed
    /// nor slashed yet (slashed at withdrawal at the latest)
    function participantOf(uint256 taskId, address account)
        external
        view
        returns (
            uint256 stake,
            bool joined,
            uint256 slashedTotal,
            bool withdrawn,
            uint256 unrevealed
        )
    {
        Participant storage p = _participants[taskId][account];
        return (p.stake, p.joined, p.slashedTotal, p.withdrawn, p.unrevealed);
    }

    /// @notice A participant's standing in one round.
    /// @param taskId the task
    /// @param round the round
    /// @param account the participant
    /// @return commitment zero when it did not commit, revealed whether it opened it, slashed
    /// whether `slash` took its stake for not revealing, claimed whether it claimed the round
    function participantRoundOf(uint256 taskId, uint32 round, address account)
        external
        view
        returns (bytes32 commitment, bool revealed, bool slashed, bool claimed)
    {
        uint256 word = _roundBits[taskId][account][round >> 7];
        uint256 revealedBit = _revealedBit(round);
        return (
            _commitments[taskId][round][account],
            word & revealedBit != 0,
            _slashed[taskId][round][account],
            word & (revealedBit << 1) != 0
        );
    }

    /// @notice An account's challenge of a round's settlement.
    /// @param taskId the task
    /// @param round the round
    /// @param account the challenger
    /// @return commitment its evidence commitment (0 if none), state a ChallengeState value
    function challengeOf(uint256 taskId, uint32 round, address account)
        external
        view
        returns (bytes32 commitment, uint8 state)
    {
        Challenge storage c = _challenges[taskId][round][account];
        return (c.commitment, uint8(c.state));
    }

    /// @notice The effective phase of a task, taking elapsed deadlines into account.
    /// @param taskId the task
    /// @return the Phase as uint8: None, Created, Commit, Reveal, Settle, Challenge, Final, Ended,
    /// Cancelled, Evidence, Ruling
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

    /// @notice The commitment a challenger must post for a reveal of this evidence.
    /// @param taskId the task
    /// @param round the challenged round
    /// @param evidenceCid the evidence's CID
    /// @param challenger the challenging account
    /// @param salt a secret random salt
    /// @return keccak256(abi.encode(taskId, round, keccak256(bytes(evidenceCid)), challenger,
    /// salt))
    function evidenceCommitmentFor(
        uint256 taskId,
        uint32 round,
        string calldata evidenceCid,
        address challenger,
        bytes32 salt
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(taskId, round, keccak256(bytes(evidenceCid)), challenger, salt));
    }

    // ---------------------------------------------------------------- internals: checks

    /// @dev Checks createTask's parameters; returns the escrow, which must fit in uint128.
    function _validateParams(TaskParams memory p) private view returns (uint256 escrow) {
        string memory invalid = _invalidParameter(p);
        if (bytes(invalid).length != 0) revert MarketplaceInvalidParameter(invalid);
        escrow = uint256(p.rounds) * p.roundBudget;
    }

    /// @dev The name of the first out-of-range createTask parameter, "" when all are valid.
    function _invalidParameter(TaskParams memory p) private view returns (string memory) {
        if (p.rounds == 0 || p.rounds > MAX_ROUNDS) return "rounds";
        if (p.roundBudget == 0 || uint256(p.rounds) * p.roundBudget > type(uint128).max) {
            return "roundBudget";
        }
        if (p.minStake == 0 || p.minStake > type(uint112).max) return "minStake";
        uint32 shortest = minWindow;
        if (p.commitWindow < shortest) return "commitWindow";
        if (p.revealWindow < shortest) return "revealWindow";
        if (p.settleWindow < shortest) return "settleWindow";
        if (p.challengeWindow < shortest) return "challengeWindow";
        if (p.resolveWindow < shortest) return "resolveWindow";
        if (p.claimWindow < shortest) return "claimWindow";
        if (p.aggregator == address(0) || p.aggregator == msg.sender) return "aggregator";
        if (p.arbiter == address(0) || p.arbiter == msg.sender || p.arbiter == p.aggregator) {
            return "arbiter";
        }
        // Bonds are bounded like stakes, so that every sum of them fits the uint128 totals.
        if (p.settleBond == 0 || p.settleBond > type(uint112).max) return "settleBond";
        if (p.slashBps > MAX_SLASH_BPS) return "slashBps";
        if (p.maxSamples == 0) return "maxSamples";
        if (bytes(p.initialModelCid).length == 0) return "initialModelCid";
        return "";
    }

    /// @dev Whether `deadline` (inclusive) has passed. The one place that compares with the
    /// block's time: every window of the protocol is a deadline, on purpose.
    function _isPast(uint256 deadline) private view returns (bool) {
        // A validator can skew the time by seconds; every window is at least minWindow long.
        // slither-disable-next-line timestamp -- deadlines are the protocol
        return block.timestamp > deadline;
    }

    /// @dev Reverts unless the window that opens after `opensAfter` has opened.
    function _requireAfter(uint256 taskId, uint32 round, uint64 opensAfter) private view {
        if (!_isPast(opensAfter)) revert MarketplaceTooEarly(taskId, round, opensAfter);
    }

    /// @dev Reverts once the window that closes at `deadline` (inclusive) has closed.
    function _requireNotAfter(uint256 taskId, uint32 round, uint64 deadline) private view {
        if (_isPast(deadline)) revert MarketplaceTooLate(taskId, round, deadline);
    }

    function _revertWrongPhase(uint256 taskId, Task storage t, uint32 round) private view {
        revert MarketplaceWrongPhase(taskId, round, uint8(_phase(taskId, t)));
    }

    /// @dev The task, which the caller must be the requester of.
    function _requesterTask(uint256 taskId) private view returns (Task storage t) {
        t = _existingTask(taskId);
        if (msg.sender != t.requester) revert MarketplaceNotRequester(taskId, msg.sender);
    }

    function _existingTask(uint256 taskId) private view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.status == TaskStatus.None) revert MarketplaceUnknownTask(taskId);
    }

    /// @dev The current round of an Active task, which must be Open (not settled yet).
    function _currentOpenRound(uint256 taskId, Task storage t)
        private
        view
        returns (uint32 r, Round storage rd)
    {
        r = t.lastRound;
        rd = _rounds[taskId][r];
        if (t.status != TaskStatus.Active || rd.status != RoundStatus.Open) {
            if (t.status == TaskStatus.None) revert MarketplaceUnknownTask(taskId);
            _revertWrongPhase(taskId, t, r);
        }
    }

    function _requireRevealWindow(uint256 taskId, Task storage t, uint32 r, uint40 openedAt)
        private
        view
    {
        uint64 commitDeadline = openedAt + uint64(t.commitWindow);
        _requireAfter(taskId, r, commitDeadline);
        uint64 revealDeadline = commitDeadline + t.revealWindow;
        _requireNotAfter(taskId, r, revealDeadline);
    }

    function _requireWithinBudget(uint256 taskId, Task storage t, uint32 r, uint256 totalPaid)
        private
        view
    {
        if (totalPaid > t.roundBudget) {
            revert MarketplaceOverBudget(taskId, r, totalPaid, t.roundBudget);
        }
    }

    function _requireFinished(uint256 taskId, Task storage t) private view {
        if (t.status != TaskStatus.Ended && t.status != TaskStatus.Cancelled) {
            _revertWrongPhase(taskId, t, t.lastRound);
        }
    }

    function _requireClaimsOpen(uint256 taskId, Task storage t) private view {
        if (t.status == TaskStatus.Active) return;
        uint64 deadline = t.endedAt + uint64(t.claimWindow);
        if (_isPast(deadline)) revert MarketplaceClaimsClosed(taskId, deadline);
    }

    /// @dev The arbiter's ruling on `round`: checks the caller, the round's state and the
    /// ruling window (after the evidence deadline, until resolveWindow after it).
    function _ruling(uint256 taskId, uint32 round)
        private
        view
        returns (Task storage t, Round storage rd)
    {
        t = _existingTask(taskId);
        if (msg.sender != t.arbiter) revert MarketplaceNotArbiter(taskId, msg.sender);
        rd = _rounds[taskId][round];
        if (rd.status != RoundStatus.Challenged) {
            _revertWrongPhase(taskId, t, round);
        }
        (, uint64 evidenceDeadline, uint64 resolveDeadline) = _disputeDeadlines(t, rd);
        _requireAfter(taskId, round, evidenceDeadline);
        if (rd.revealedChallengers == 0) revert MarketplaceNoEvidence(taskId, round);
        _requireNotAfter(taskId, round, resolveDeadline);
    }

    // ---------------------------------------------------------------- internals: rounds

    function _writeSettlement(
        Round storage rd,
        string calldata newGlobalCid,
        bytes32 payoutRoot,
        uint256 totalPaid
    ) private {
        // casting to 'uint128' is safe because totalPaid <= roundBudget, a uint128 (checked
        // by the caller with _requireWithinBudget)
        // forge-lint: disable-next-line(unsafe-typecast)
        rd.totalPaid = uint128(totalPaid);
        rd.payoutRoot = payoutRoot;
        rd.newGlobalCidHash = keccak256(bytes(newGlobalCid));
    }

    /// @dev The challenge, evidence and ruling deadlines of a settled round.
    function _disputeDeadlines(Task storage t, Round storage rd)
        private
        view
        returns (uint64 challengeDeadline, uint64 evidenceDeadline, uint64 resolveDeadline)
    {
        challengeDeadline = rd.settledAt + uint64(t.challengeWindow);
        evidenceDeadline = challengeDeadline + t.revealWindow;
        resolveDeadline = evidenceDeadline + t.resolveWindow;
    }

    /// @dev Whether the round's pending settlement is due to become final now without a
    /// ruling, how, and its effective final time (Outcome.None when not due).
    function _dueFinalization(Task storage t, Round storage rd)
        private
        view
        returns (Outcome outcome, uint64 finalAt)
    {
        RoundStatus status = rd.status;
        if (status != RoundStatus.Settled && status != RoundStatus.Challenged) {
            return (Outcome.None, 0);
        }
        (uint64 challengeDeadline, uint64 evidenceDeadline, uint64 resolveDeadline) =
            _disputeDeadlines(t, rd);
        if (status == RoundStatus.Settled) {
            (outcome, finalAt) = (Outcome.Unchallenged, challengeDeadline);
        } else if (rd.revealedChallengers == 0) {
            (outcome, finalAt) = (Outcome.NoEvidence, evidenceDeadline);
        } else {
            (outcome, finalAt) = (Outcome.ArbiterSilent, resolveDeadline);
        }
        if (!_isPast(finalAt)) return (Outcome.None, 0);
    }

    /// @dev Finalizes the latest settlement if it is due (see _dueFinalization).
    function _finalizeIfDue(uint256 taskId, Task storage t) private returns (bool) {
        uint32 r = t.lastRound;
        if (r == 0) return false;
        Round storage rd = _rounds[taskId][r];
        (Outcome outcome, uint64 finalAt) = _dueFinalization(t, rd);
        if (outcome == Outcome.None) return false;
        _finalize(taskId, t, r, rd, outcome, finalAt);
        return true;
    }

    /// @dev Makes a settlement final: its payout root becomes claimable for good, its total is
    /// allocated, its model is the next round's, and the challenger bonds the aggregator won
    /// are credited. The last round's finalization ends the task and returns the bond.
    function _finalize(
        uint256 taskId,
        Task storage t,
        uint32 r,
        Round storage rd,
        Outcome outcome,
        uint64 finalAt
    ) private {
        rd.status = RoundStatus.Final;
        rd.outcome = outcome;
        // casting to 'uint40' is safe because finalAt is block.timestamp or a deadline that
        // already passed, both below 2^40 for the next 30,000 years
        // forge-lint: disable-next-line(unsafe-typecast)
        rd.finalAt = uint40(finalAt);
        uint128 totalPaid = rd.totalPaid;
        t.totalAllocated += totalPaid;
        // casting to 'uint24' is safe because r <= rounds <= MAX_ROUNDS
        // forge-lint: disable-next-line(unsafe-typecast)
        t.lastFinalRound = uint24(r);
        emit SettlementFinalized(taskId, r, uint8(outcome), rd.payoutRoot, totalPaid, finalAt);
        _credit(t.aggregator, _bondsWonByAggregator(rd, outcome) * t.settleBond, taskId, r);
        // slither-disable-next-line timestamp -- round numbers (slither taints all of _tasks)
        if (r < t.rounds) return;
        _end(taskId, t, 0, finalAt);
        if (t.aggregatorBondHeld) _returnAggregatorBond(taskId, t, r);
    }

    /// @dev How many challenger bonds of a finalized round go to the aggregator: all of them
    /// when the challenges failed, those whose evidence was never revealed otherwise.
    function _bondsWonByAggregator(Round storage rd, Outcome outcome)
        private
        view
        returns (uint256)
    {
        if (outcome == Outcome.Rejected || outcome == Outcome.NoEvidence) {
            return rd.challengers;
        }
        return uint256(rd.challengers) - rd.revealedChallengers;
    }

    /// @dev What a challenger of a final round is owed, by its challenge's state and the
    /// round's outcome: bond + share of the aggregator's bond if upheld, bond if the arbiter
    /// was silent, nothing otherwise (lost, or already collected).
    function _challengerPayout(Task storage t, Round storage rd, ChallengeState state)
        private
        view
        returns (uint256)
    {
        if (state != ChallengeState.Revealed) return 0;
        uint256 bond = t.settleBond;
        if (rd.outcome == Outcome.Corrected) return bond + bond / rd.revealedChallengers;
        if (rd.outcome == Outcome.ArbiterSilent) return bond;
        return 0;
    }

    /// @dev The latest time the aggregator may open the next round: settleWindow after the
    /// task's creation for round 1, after the previous round's final time otherwise; 0 when
    /// the previous round is not final (stored) yet.
    function _openDeadline(uint256 taskId, Task storage t) private view returns (uint64) {
        uint32 last = t.lastRound;
        if (last == 0) return uint64(t.createdAt) + t.settleWindow;
        Round storage previous = _rounds[taskId][last];
        if (previous.status != RoundStatus.Final) return 0;
        return uint64(previous.finalAt) + t.settleWindow;
    }

    /// @dev The model the next round must open with: the latest final settlement's new model
    /// (the arbiter's when it corrected it), or the initial model before any.
    function _expectedModel(uint256 taskId, Task storage t) private view returns (bytes32) {
        uint32 finalRound = t.lastFinalRound;
        if (finalRound == 0) return t.initialModelCidHash;
        return _rounds[taskId][finalRound].newGlobalCidHash;
    }

    /// @dev The leaf of (account, amount) in round `round`'s payout tree:
    /// keccak256(bytes.concat(keccak256(abi.encode(taskId, round, account, amount)))).
    function _payoutLeaf(uint256 taskId, uint32 round, address account, uint256 amount)
        private
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(taskId, round, account, amount))));
    }

    /// @dev Pays one round of a claim: checks and records it, returns the amount.
    function _claimRound(uint256 taskId, RoundClaim calldata c) private returns (uint256 amount) {
        uint32 r = c.round;
        amount = c.amount;
        Round storage rd = _rounds[taskId][r];
        if (rd.status != RoundStatus.Final) revert MarketplaceRoundNotFinal(taskId, r);
        if (amount == 0) revert MarketplaceNothingToClaim(taskId, r, msg.sender);
        mapping(uint256 => uint256) storage bits = _roundBits[taskId][msg.sender];
        uint256 word = bits[r >> 7];
        uint256 revealedBit = _revealedBit(r);
        if (word & revealedBit == 0) revert MarketplaceNotRevealer(taskId, r, msg.sender);
        uint256 claimedBit = revealedBit << 1;
        if (word & claimedBit != 0) revert MarketplaceAlreadyClaimed(taskId, r, msg.sender);
        bytes32 leaf = _payoutLeaf(taskId, r, msg.sender, amount);
        if (!MerkleProof.verifyCalldata(c.proof, rd.payoutRoot, leaf)) {
            revert MarketplaceInvalidProof(taskId, r, msg.sender, amount);
        }
        uint256 claimedAfter = rd.totalClaimed + amount;
        if (claimedAfter > rd.totalPaid) {
            revert MarketplaceClaimExceedsRoundTotal(taskId, r, claimedAfter, rd.totalPaid);
        }
        bits[r >> 7] = word | claimedBit;
        // casting to 'uint128' is safe because claimedAfter <= totalPaid, a uint128
        // forge-lint: disable-next-line(unsafe-typecast)
        rd.totalClaimed = uint128(claimedAfter);
        emit Claimed(taskId, msg.sender, r, amount);
    }

    /// @dev Records that the caller revealed its commitment of round r (once).
    function _markRevealed(uint256 taskId, uint32 r) private {
        mapping(uint256 => uint256) storage bits = _roundBits[taskId][msg.sender];
        uint256 word = bits[r >> 7];
        uint256 revealedBit = _revealedBit(r);
        if (word & revealedBit != 0) revert MarketplaceAlreadyRevealed(taskId, r, msg.sender);
        bits[r >> 7] = word | revealedBit;
        // Cannot underflow: the caller committed in round r (counted once) and neither revealed
        // nor was slashed for it (slashing starts after the reveal deadline, checked by reveal).
        unchecked {
            --_participants[taskId][msg.sender].unrevealed;
        }
    }

    function _revealedBit(uint32 round) private pure returns (uint256) {
        return uint256(1) << ((round & 127) << 1);
    }

    function _isRevealed(uint256 taskId, uint32 round, address account)
        private
        view
        returns (bool)
    {
        return _roundBits[taskId][account][round >> 7] & _revealedBit(round) != 0;
    }

    // ---------------------------------------------------------------- internals: money

    function _escrow(Task storage t) private view returns (uint256) {
        return uint256(t.rounds) * t.roundBudget;
    }

    /// @dev What the requester can be refunded now: escrow + slashed stakes + forfeited bonds,
    /// minus what was refunded and what claims may still take (every allocation while claims
    /// are open, only what was actually claimed once they closed).
    function _refundable(Task storage t) private view returns (uint256) {
        // slither-disable-next-line timestamp -- the claim deadline, through _isPast
        bool claimsClosed =
            t.status != TaskStatus.Active && _isPast(uint256(t.endedAt) + t.claimWindow);
        uint256 reserved = claimsClosed ? t.totalClaimed : t.totalAllocated;
        return _escrow(t) + t.totalSlashed + t.totalForfeited - t.totalRefunded - reserved;
    }

    function _slashUnit(Task storage t, Participant storage p) private view returns (uint256) {
        return (uint256(p.stake) + p.slashedTotal) * t.slashBps / BPS;
    }

    /// @dev Applies, at withdrawal, the slash of every commitment left unrevealed and not
    /// slashed yet: count * slashBps of the original stake, capped at what is left.
    function _slashPending(uint256 taskId, Task storage t, Participant storage p, address who)
        private
    {
        uint256 pending = p.unrevealed;
        if (pending == 0) return;
        p.unrevealed = 0;
        uint256 amount = pending * _slashUnit(t, p);
        if (amount > p.stake) amount = p.stake;
        if (amount != 0) _takeStake(taskId, t, p, 0, who, amount);
    }

    /// @dev Moves `amount` (<= p.stake) of a participant's stake to the requester's side.
    function _takeStake(
        uint256 taskId,
        Task storage t,
        Participant storage p,
        uint32 round,
        address who,
        uint256 amount
    ) private {
        // Safe unchecked: amount <= stake (checked by every caller), so no underflow, and
        // stake + slashedTotal stays the original stake, a uint112, so no overflow. The casts
        // to uint112 are safe for the same reason.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            p.stake -= uint112(amount);
            // forge-lint: disable-next-line(unsafe-typecast)
            p.slashedTotal += uint112(amount);
        }
        // casting to 'uint128' is safe because amount <= stake, a uint112 (the sum is checked)
        // forge-lint: disable-next-line(unsafe-typecast)
        t.totalSlashed += uint128(amount);
        emit ParticipantSlashed(taskId, round, who, amount);
    }

    function _postAggregatorBond(uint256 taskId, Task storage t) private {
        t.aggregatorBondHeld = true;
        uint256 bond = t.settleBond;
        emit AggregatorBondPosted(taskId, msg.sender, bond);
        token.safeTransferFrom(msg.sender, address(this), bond);
    }

    function _returnAggregatorBond(uint256 taskId, Task storage t, uint32 r) private {
        t.aggregatorBondHeld = false;
        emit AggregatorBondReturned(taskId, t.aggregator, t.settleBond);
        _credit(t.aggregator, t.settleBond, taskId, r);
    }

    /// @dev Liveness fault: the held bond goes to the requester's refundable balance.
    function _forfeitBondToRequester(uint256 taskId, Task storage t, uint32 r) private {
        t.aggregatorBondHeld = false;
        uint128 bond = t.settleBond;
        t.totalForfeited += bond;
        emit AggregatorBondForfeited(taskId, r, bond, bond);
    }

    /// @dev Upheld challenge: the held bond is split equally among the `revealed` (> 0)
    /// challengers, who collect their share with `collectChallenge`; the remainder of the
    /// division (< revealed tokens' smallest units) goes to the requester's refundable balance.
    function _forfeitBondToChallengers(uint256 taskId, Task storage t, uint32 r, uint32 revealed)
        private
    {
        t.aggregatorBondHeld = false;
        uint128 bond = t.settleBond;
        uint128 dust = bond % revealed;
        t.totalForfeited += dust;
        emit AggregatorBondForfeited(taskId, r, bond, dust);
    }

    function _credit(address account, uint256 amount, uint256 taskId, uint32 round) private {
        // slither-disable-next-line timestamp -- a bond amount (slither taints all of _rounds)
        if (amount != 0) {
            credits[account] += amount;
            emit CreditAdded(account, amount, taskId, round);
        }
    }

    function _end(uint256 taskId, Task storage t, uint8 reason, uint64 endedAt) private {
        t.status = TaskStatus.Ended;
        // casting to 'uint40' is safe because endedAt is block.timestamp or a passed deadline
        // forge-lint: disable-next-line(unsafe-typecast)
        t.endedAt = uint40(endedAt);
        emit TaskEnded(taskId, reason, endedAt);
    }

    // ---------------------------------------------------------------- internals: phase

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
            if (!_isPast(commitDeadline)) return Phase.Commit;
            if (!_isPast(commitDeadline + t.revealWindow)) return Phase.Reveal;
            return Phase.Settle;
        }
        if (rs == RoundStatus.Final) return Phase.Final;
        (uint64 challengeDeadline, uint64 evidenceDeadline,) = _disputeDeadlines(t, rd);
        if (!_isPast(challengeDeadline)) return Phase.Challenge;
        (Outcome due,) = _dueFinalization(t, rd);
        if (due != Outcome.None) {
            return r == t.rounds ? Phase.Ended : Phase.Final;
        }
        // Challenged and not due: evidence window, or evidence revealed and ruling pending.
        if (!_isPast(evidenceDeadline)) return Phase.Evidence;
        return Phase.Ruling;
    }
}
