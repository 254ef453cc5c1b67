// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Custom errors of the fedmarket Marketplace
/// @notice Every revert of the Marketplace is one of these (or a SafeERC20/token error when a
/// transfer is not funded or approved). `phase` arguments are `Phase` values (see MarketplaceTypes).
interface IMarketplaceErrors {
    /// @notice A constructor or TaskParams value is zero, out of range, absurd, or a role clash.
    error MarketplaceInvalidParameter(string name);
    /// @notice No task has this id.
    error MarketplaceUnknownTask(uint256 taskId);
    /// @notice The task or round is not in a phase that allows the call.
    error MarketplaceWrongPhase(uint256 taskId, uint32 round, uint8 phase);
    /// @notice Called before the window opens; `opensAfter` is the last timestamp still too early.
    error MarketplaceTooEarly(uint256 taskId, uint32 round, uint64 opensAfter);
    /// @notice Called after the window closed at `deadline` (inclusive).
    error MarketplaceTooLate(uint256 taskId, uint32 round, uint64 deadline);
    /// @notice Only the task's requester may call this.
    error MarketplaceNotRequester(uint256 taskId, address account);
    /// @notice Only the task's aggregator may call this.
    error MarketplaceNotAggregator(uint256 taskId, address account);
    /// @notice Only the task's arbiter may rule on challenges.
    error MarketplaceNotArbiter(uint256 taskId, address account);
    /// @notice The account already has another role in the task (the aggregator or the arbiter
    /// cannot join, the aggregator or the arbiter cannot challenge).
    error MarketplaceRoleConflict(uint256 taskId, address account);
    /// @notice The stake is below the task's minimum.
    error MarketplaceStakeTooLow(uint256 taskId, uint256 stake, uint256 minStake);
    /// @notice The stake is above what the marketplace can account for.
    error MarketplaceStakeTooHigh(uint256 taskId, uint256 stake, uint256 maxStake);
    /// @notice This account already joined the task.
    error MarketplaceAlreadyJoined(uint256 taskId, address account);
    /// @notice This account did not join the task.
    error MarketplaceNotParticipant(uint256 taskId, address account);
    /// @notice The round must open on the expected model CID (by keccak256 of the string).
    error MarketplaceModelMismatch(uint256 taskId, uint32 round, bytes32 expected, bytes32 given);
    /// @notice A zero commitment is not accepted (zero means "not committed").
    error MarketplaceZeroCommitment(uint256 taskId, uint32 round);
    /// @notice This account already committed in this round.
    error MarketplaceAlreadyCommitted(uint256 taskId, uint32 round, address account);
    /// @notice This account did not commit in this round.
    error MarketplaceNotCommitted(uint256 taskId, uint32 round, address account);
    /// @notice This account already revealed in this round.
    error MarketplaceAlreadyRevealed(uint256 taskId, uint32 round, address account);
    /// @notice The revealed values do not hash to the commitment.
    error MarketplaceCommitmentMismatch(uint256 taskId, uint32 round, address account);
    /// @notice numSamples must be in 1..maxSamples.
    error MarketplaceInvalidSamples(uint256 taskId, uint32 numSamples, uint32 maxSamples);
    /// @notice A settlement cannot pay more than the round budget.
    error MarketplaceOverBudget(uint256 taskId, uint32 round, uint256 totalPaid, uint256 budget);
    /// @notice This round was never opened.
    error MarketplaceUnknownRound(uint256 taskId, uint32 round);
    /// @notice This (round, participant) was already slashed.
    error MarketplaceAlreadySlashed(uint256 taskId, uint32 round, address participant);
    /// @notice The slash would take nothing (slashBps is 0 or the stake is empty).
    error MarketplaceNothingToSlash(uint256 taskId, uint32 round, address participant);
    /// @notice The participant already withdrew its stake.
    error MarketplaceStakeAlreadyWithdrawn(uint256 taskId, address participant);
    /// @notice This account already challenged this settlement.
    error MarketplaceAlreadyChallenged(uint256 taskId, uint32 round, address account);
    /// @notice This account has no challenge of this settlement in the required state.
    error MarketplaceNotChallenger(uint256 taskId, uint32 round, address account);
    /// @notice The revealed evidence does not hash to the challenge's commitment.
    error MarketplaceEvidenceMismatch(uint256 taskId, uint32 round, address account);
    /// @notice No challenger revealed evidence: there is nothing to rule on.
    error MarketplaceNoEvidence(uint256 taskId, uint32 round);
    /// @notice The round's settlement is not final (yet).
    error MarketplaceRoundNotFinal(uint256 taskId, uint32 round);
    /// @notice Only accounts that revealed in the round can be paid for it.
    error MarketplaceNotRevealer(uint256 taskId, uint32 round, address account);
    /// @notice The account already claimed its payout of this round.
    error MarketplaceAlreadyClaimed(uint256 taskId, uint32 round, address account);
    /// @notice The proof does not show (taskId, round, account, amount) under the round's root.
    error MarketplaceInvalidProof(uint256 taskId, uint32 round, address account, uint256 amount);
    /// @notice Nothing to claim: an empty claim list (round 0) or a zero amount.
    error MarketplaceNothingToClaim(uint256 taskId, uint32 round, address account);
    /// @notice Paying this claim would make the round's claims exceed its totalPaid.
    error MarketplaceClaimExceedsRoundTotal(
        uint256 taskId, uint32 round, uint256 claimedAfter, uint256 totalPaid
    );
    /// @notice The task ended and its claim window closed at `claimDeadline` (inclusive).
    error MarketplaceClaimsClosed(uint256 taskId, uint64 claimDeadline);
    /// @notice The refund of a task that ran a round needs the validation set published first.
    error MarketplaceValidationNotPublished(uint256 taskId);
    /// @notice Nothing is left to refund to the requester.
    error MarketplaceNothingToRefund(uint256 taskId);
    /// @notice This challenger has nothing to collect from this round (bond lost or taken).
    error MarketplaceNothingToCollect(uint256 taskId, uint32 round, address account);
    /// @notice The account has no credited bonds.
    error MarketplaceNoCredit(address account);
}
