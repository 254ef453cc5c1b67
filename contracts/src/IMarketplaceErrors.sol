// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Custom errors of the fedmarket Marketplace
/// @notice Every revert of the Marketplace is one of these (or a SafeERC20/token error when a
/// transfer is not funded or approved). `phase` arguments are `Phase` values (see MarketplaceTypes).
interface IMarketplaceErrors {
    /// @notice A TaskParams field is zero, out of range or absurd.
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
    /// @notice Only the task's arbiter (or the requester when there is none) may resolve.
    error MarketplaceNotResolver(uint256 taskId, address account);
    /// @notice The aggregator cannot challenge its own settlement.
    error MarketplaceAggregatorCannotChallenge(uint256 taskId, address account);
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
    /// @notice No settlement of the task is final yet, so nothing can be claimed.
    error MarketplaceNoFinalSettlement(uint256 taskId);
    /// @notice The proof does not show (account, cumulativeAmount) under the final payout root.
    error MarketplaceInvalidProof(uint256 taskId, address account, uint256 cumulativeAmount);
    /// @notice cumulativeAmount does not exceed what the account already claimed.
    error MarketplaceNothingToClaim(
        uint256 taskId, address account, uint256 cumulativeAmount, uint256 alreadyClaimed
    );
    /// @notice Paying this claim would exceed the task's final allocations.
    error MarketplaceClaimExceedsAllocation(
        uint256 taskId, uint256 totalClaimedAfter, uint256 totalAllocated
    );
    /// @notice Nothing is left to refund to the requester.
    error MarketplaceNothingToRefund(uint256 taskId);
    /// @notice The account has no credited bonds.
    error MarketplaceNoCredit(address account);
}
