// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {RoundClaim, RoundInfo, TaskInfo, TaskParams} from "../../src/MarketplaceTypes.sol";
import {RewardToken} from "../../src/RewardToken.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";
import {TestBase} from "../utils/TestBase.sol";

/// @notice Drives one task through random sequences of every Marketplace action, from a fixed
/// cast of actors, and keeps ghost books the invariants compare with the contract's state.
/// Calls that revert are simply skipped by the fuzzer (fail_on_revert = false). Properties
/// that need history (a final round's claimable amounts never decrease, claims only reach
/// revealers, a final root never changes) are checked after every action and counted in
/// `violations`, which the invariant test requires to stay 0.
contract MarketplaceHandler is TestBase {
    uint32 public constant ROUNDS = 4;
    uint128 public constant BUDGET = 100 ether;
    uint128 public constant BOND = 1 ether + 1; // not divisible by 2 or 3: split dust happens
    uint256 public constant N = 4; // participants
    uint256 public constant C = 3; // challengers (two outsiders and participant 0)
    uint32 internal constant WINDOW = 100;

    RewardToken public immutable token;
    Marketplace public immutable market;
    uint256 public immutable taskId;
    address public requester;
    address public aggregator;
    address public arbiter;
    address[N] internal _participants;
    address[C] internal _challengers;

    // ghost books (every token that entered or left the marketplace)
    uint256 public ghostStaked;
    uint256 public ghostStakeWithdrawn;
    uint256 public ghostBondsPosted;
    uint256 public ghostCreditsWithdrawn;
    uint256 public ghostChallengerPaid;
    uint256 public ghostClaimedPaid;
    uint256 public ghostRefunded;
    mapping(address => uint256) public ghostStakedBy;
    mapping(address => uint256) public ghostWithdrawnBy;
    mapping(uint32 => uint256) public ghostRoundClaimed;

    /// @dev each round's payout tree over the participants (the settled, then corrected one)
    mapping(uint32 => uint256[N]) internal _tree;
    /// @dev each round's model CID as settled or corrected (round 0: the initial model)
    mapping(uint32 => string) internal _model;
    /// @dev what a participant could claim from a final round when last observed
    mapping(uint32 => uint256[N]) internal _lastClaimable;
    mapping(uint32 => bytes32) internal _finalRoot;

    /// @dev how often each kind of action succeeded (to check the campaign reaches them)
    mapping(string => uint256) public successes;

    uint256 public violations;
    string public lastViolation;
    bool public drained;

    /// @dev Deploys the token (owning it, to mint for actors) and the marketplace.
    constructor() {
        token = new RewardToken();
        market = new Marketplace(IERC20(address(token)), WINDOW);
        requester = makeAddr("inv-requester");
        aggregator = makeAddr("inv-aggregator");
        arbiter = makeAddr("inv-arbiter");
        for (uint256 i = 0; i < N; i++) {
            _participants[i] = makeAddr(string.concat("inv-p", vm.toString(i)));
        }
        _challengers[0] = makeAddr("inv-challenger0");
        _challengers[1] = makeAddr("inv-challenger1");
        _challengers[2] = _participants[0];
        TaskParams memory p;
        p.specCid = "bafkreispec";
        p.initialModelCid = "m0";
        p.rounds = ROUNDS;
        p.roundBudget = BUDGET;
        p.minStake = 1 ether;
        p.commitWindow = WINDOW;
        p.revealWindow = WINDOW;
        p.settleWindow = 2 * WINDOW;
        p.challengeWindow = 3 * WINDOW;
        p.resolveWindow = 3 * WINDOW;
        p.claimWindow = 5 * WINDOW;
        p.aggregator = aggregator;
        p.arbiter = arbiter;
        p.settleBond = BOND;
        p.slashBps = 2_500;
        p.maxSamples = 1_000;
        _model[0] = "m0";
        _fund(requester, uint256(ROUNDS) * BUDGET);
        vm.prank(requester);
        taskId = market.createTask(p);
    }

    function _fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(market), type(uint256).max);
    }

    function participants() external view returns (address[N] memory) {
        return _participants;
    }

    function challengers() external view returns (address[C] memory) {
        return _challengers;
    }

    /// @dev Everyone who can hold tokens (participant 0 is also a challenger).
    function actors() public view returns (address[] memory list) {
        list = new address[](N + 5);
        for (uint256 i = 0; i < N; i++) {
            list[i] = _participants[i];
        }
        list[N] = requester;
        list[N + 1] = aggregator;
        list[N + 2] = arbiter;
        list[N + 3] = _challengers[0];
        list[N + 4] = _challengers[1];
    }

    function tree(uint32 round) external view returns (uint256[N] memory) {
        return _tree[round];
    }

    function _accounts() internal view returns (address[] memory list) {
        list = new address[](N);
        for (uint256 i = 0; i < N; i++) {
            list[i] = _participants[i];
        }
    }

    function _values(uint256[N] memory a) internal pure returns (uint256[] memory list) {
        list = new uint256[](N);
        for (uint256 i = 0; i < N; i++) {
            list[i] = a[i];
        }
    }

    function _salt(address who, uint32 round) internal pure returns (bytes32) {
        return keccak256(abi.encode(who, round));
    }

    function _digest(address who, uint32 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("digest", who, round));
    }

    function _evidence(address who) internal pure returns (string memory) {
        return string.concat("ev-", vm.toString(who));
    }

    function _violation(string memory what) internal {
        violations += 1;
        lastViolation = what;
    }

    /// @dev Moves time forward to just after `deadline` if it is not past yet, so that
    /// sequences reach the later phases instead of mostly reverting.
    function _warpPast(uint256 deadline) internal {
        if (block.timestamp <= deadline) vm.warp(deadline + 1);
    }

    function _current() internal view returns (uint32 r, RoundInfo memory info) {
        r = market.getTask(taskId).lastRound;
        info = market.getRound(taskId, r);
    }

    function _revealed(uint32 round, address who) internal view returns (bool r) {
        (, r,,) = market.participantRoundOf(taskId, round, who);
    }

    /// @dev After every action: final roots never change, and (before the claim deadline)
    /// an unclaimed amount of an honest final round never decreases. A round is honest when
    /// its tree promises its revealers no more than its totalPaid (an over-promising root is
    /// first come, first served: its claimable amounts may shrink). What participant i can
    /// claim from round r now: its leaf, if the round is final, claims are open, i revealed
    /// and did not claim yet, and the round's total leaves room for it.
    function _observe() internal {
        TaskInfo memory t = market.getTask(taskId);
        bool open = t.status == 1 || block.timestamp <= t.claimDeadline;
        for (uint32 r = 1; r <= t.lastRound; r++) {
            RoundInfo memory info = market.getRound(taskId, r);
            if (info.status != 4) continue;
            if (_finalRoot[r] == bytes32(0)) _finalRoot[r] = info.payoutRoot;
            else if (_finalRoot[r] != info.payoutRoot) _violation("final root changed");
            bool[N] memory revealedBy;
            bool[N] memory claimedBy;
            uint256 promised = 0;
            for (uint256 i = 0; i < N; i++) {
                (, revealedBy[i],, claimedBy[i]) =
                    market.participantRoundOf(taskId, r, _participants[i]);
                if (revealedBy[i]) promised += _tree[r][i];
            }
            bool honest = promised <= info.totalPaid;
            for (uint256 i = 0; i < N; i++) {
                uint256 amount = _tree[r][i];
                bool canClaim = open && revealedBy[i] && !claimedBy[i] && amount != 0
                    && info.totalClaimed + amount <= info.totalPaid;
                uint256 claimableNow = canClaim ? amount : 0;
                if (open && honest && !claimedBy[i] && claimableNow < _lastClaimable[r][i]) {
                    _violation("claimable amount decreased");
                }
                _lastClaimable[r][i] = claimableNow;
            }
        }
    }

    // ------------------------------------------------------------ actions

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 4 * WINDOW));
        _observe();
    }

    function join(uint256 seed, uint256 stake) external {
        address who = _participants[seed % N];
        stake = bound(stake, 1 ether, 10 ether);
        _fund(who, stake);
        vm.prank(who);
        try market.join(taskId, stake) {
            ghostStaked += stake;
            ghostStakedBy[who] += stake;
        } catch {}
        _observe();
    }

    function openRound() external {
        _fund(aggregator, BOND);
        uint256 before = token.balanceOf(aggregator);
        // may finalize the previous round first: the model is then that round's
        try market.finalize(taskId) {} catch {}
        TaskInfo memory t = market.getTask(taskId);
        vm.prank(aggregator);
        try market.openRound(taskId, _model[t.lastFinalRound]) {
            successes["openRound"]++;
            ghostBondsPosted += before - token.balanceOf(aggregator);
        } catch {}
        _observe();
    }

    function commit(uint256 seed) external {
        address who = _participants[seed % N];
        uint32 r = market.getTask(taskId).lastRound;
        bytes32 c = market.commitmentFor(taskId, r, "u", _digest(who, r), 10, who, _salt(who, r));
        vm.prank(who);
        try market.commit(taskId, c) {} catch {}
    }

    function reveal(uint256 seed) external {
        address who = _participants[seed % N];
        (uint32 r, RoundInfo memory info) = _current();
        if (info.status == 1) _warpPast(info.commitDeadline);
        bytes32 digest = _digest(who, r);
        bytes32 salt = _salt(who, r);
        vm.prank(who);
        try market.reveal(taskId, "u", digest, 10, salt) {} catch {}
        _observe();
    }

    /// @dev A payout tree paying `paid` to two participants (revealers or not); when `inflate`
    /// is odd it promises BUDGET more to a third (a bad, over-promising root).
    function _proposal(uint256 paid, uint256 split, uint256 inflate)
        internal
        pure
        returns (uint256[N] memory next)
    {
        uint256 i = split % N;
        next[i] += paid / 2;
        next[(i + 1) % N] += paid - paid / 2;
        if (inflate % 2 == 1) next[(i + 2) % N] += BUDGET;
    }

    function settle(uint256 paid, uint256 split, uint256 inflate) external {
        (uint32 r, RoundInfo memory info) = _current();
        if (info.status == 1) _warpPast(info.revealDeadline);
        paid = bound(paid, 0, BUDGET);
        uint256[N] memory next = _proposal(paid, split, inflate);
        uint32 round = r; // the tree's leaves are bound to the round
        bytes32 root = MerkleHelper.root(taskId, round, _accounts(), _values(next));
        string memory cid = string.concat("m", vm.toString(r));
        vm.prank(aggregator);
        try market.settle(taskId, cid, "report", root, paid) {
            successes["settle"]++;
            _tree[r] = next;
            _model[r] = cid;
        } catch {}
        _observe();
    }

    function challenge(uint256 seed) external {
        address who = _challengers[seed % C];
        uint32 r = market.getTask(taskId).lastRound;
        bytes32 c = market.evidenceCommitmentFor(taskId, r, _evidence(who), who, _salt(who, r));
        _fund(who, BOND);
        vm.prank(who);
        try market.challenge(taskId, r, c) {
            successes["challenge"]++;
            ghostBondsPosted += BOND;
        } catch {}
        _observe();
    }

    function revealEvidence(uint256 seed) external {
        address who = _challengers[seed % C];
        (uint32 r, RoundInfo memory info) = _current();
        if (info.status == 3) _warpPast(info.challengeDeadline);
        vm.prank(who);
        try market.revealEvidence(taskId, r, _evidence(who), _salt(who, r)) {
            successes["revealEvidence"]++;
        } catch {}
        _observe();
    }

    function reject() external {
        (uint32 r, RoundInfo memory info) = _current();
        if (info.status == 3) _warpPast(info.evidenceDeadline);
        vm.prank(arbiter);
        try market.reject(taskId, r) {
            successes["reject"]++;
        } catch {}
        _observe();
    }

    /// @dev The arbiter's corrected settlement is honest: it pays exactly `paid` to revealers.
    function uphold(uint256 paid, uint256 split) external {
        (uint32 r, RoundInfo memory info) = _current();
        if (info.status == 3) _warpPast(info.evidenceDeadline);
        paid = bound(paid, 0, BUDGET);
        uint256[N] memory next;
        uint256 revealers = 0;
        for (uint256 i = 0; i < N; i++) {
            if (_revealed(r, _participants[i])) revealers++;
        }
        if (revealers == 0) paid = 0;
        uint256 left = paid;
        for (uint256 k = 0; k < N && left > 0; k++) {
            uint256 i = (split % N + k) % N;
            if (!_revealed(r, _participants[i])) continue;
            uint256 share = revealers == 1 ? left : left / 2;
            next[i] = share;
            left -= share;
            revealers--;
        }
        uint32 round = r;
        bytes32 root = MerkleHelper.root(taskId, round, _accounts(), _values(next));
        string memory cid = string.concat("c", vm.toString(r));
        vm.prank(arbiter);
        try market.uphold(taskId, r, cid, "corrected", root, paid) {
            successes["uphold"]++;
            _tree[r] = next;
            _model[r] = cid;
        } catch {}
        _observe();
    }

    /// @dev Macro action: opens the next round (finalizing the previous one first if due),
    /// lets participants commit and reveal (chosen by the two masks), and settles, so that
    /// sequences reach claims of several rounds, disputes and the end of the task.
    function playRound(
        uint256 commitMask,
        uint256 revealMask,
        uint256 paid,
        uint256 split,
        uint256 inflate
    ) external {
        (, RoundInfo memory info) = _current();
        if (info.status == 2) _warpPast(info.challengeDeadline);
        try market.finalize(taskId) {} catch {}
        TaskInfo memory t = market.getTask(taskId);
        if (t.status != 1 || t.lastRound == ROUNDS) return;
        _fund(aggregator, BOND);
        uint256 before = token.balanceOf(aggregator);
        vm.prank(aggregator);
        try market.openRound(taskId, _model[t.lastFinalRound]) {
            successes["openRound"]++;
            ghostBondsPosted += before - token.balanceOf(aggregator);
        } catch {
            return;
        }
        // each participant commits with probability 3/4, and reveals with probability 3/4
        bool[N] memory committed;
        for (uint256 i = 0; i < N; i++) {
            if ((commitMask >> (2 * i)) & 3 == 0) continue;
            (, bool joined,,,) = market.participantOf(taskId, _participants[i]);
            if (!joined) this.join(i, 1 ether + paid % 9 ether);
            this.commit(i);
            committed[i] = true;
        }
        for (uint256 i = 0; i < N; i++) {
            if (committed[i] && (revealMask >> (2 * i)) & 3 != 0) this.reveal(i);
        }
        this.settle(paid, split, inflate);
    }

    /// @dev Macro action: the challengers in `challengeMask` challenge the latest settlement,
    /// those also in `revealMask` reveal their evidence, then the arbiter rejects (ruling 0),
    /// upholds (1), stays silent past its deadline (2) or does nothing yet (3).
    function playDispute(uint256 challengeMask, uint256 revealMask, uint256 ruling, uint256 paid)
        external
    {
        for (uint256 c = 0; c < C; c++) {
            if ((challengeMask >> c) & 1 == 1) this.challenge(c);
        }
        for (uint256 c = 0; c < C; c++) {
            if ((challengeMask >> c) & (revealMask >> c) & 1 == 1) this.revealEvidence(c);
        }
        ruling %= 4;
        if (ruling == 0) this.reject();
        if (ruling == 1) this.uphold(paid, challengeMask);
        if (ruling == 2) {
            (, RoundInfo memory info) = _current();
            if (info.status == 3) _warpPast(info.resolveDeadline);
            try market.finalize(taskId) {} catch {}
        }
        _observe();
    }

    function finalize() external {
        (, RoundInfo memory info) = _current();
        if (info.status == 2) _warpPast(info.challengeDeadline);
        try market.finalize(taskId) {} catch {}
        _observe();
    }

    function collectChallenge(uint256 seed, uint256 roundSeed) external {
        uint32 last = market.getTask(taskId).lastRound;
        if (last == 0) return;
        _collect(_challengers[seed % C], uint32(bound(roundSeed, 1, last)));
        _observe();
    }

    function _collect(address who, uint32 r) internal {
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        try market.collectChallenge(taskId, r) {
            successes["collectChallenge"]++;
            ghostChallengerPaid += token.balanceOf(who) - before;
        } catch {}
    }

    /// @dev Claims every final round the participant has a leaf in (when `mask` % 4 == 3 only
    /// the rounds whose bit r+1 is set); bit 7 set also includes rounds it did not reveal
    /// in, bit 6 rounds that are not final (either makes the claim fail).
    function claim(uint256 seed, uint256 mask) external {
        uint256 i = seed % N;
        address who = _participants[i];
        (, RoundInfo memory latest) = _current();
        if (latest.status == 2 && mask % 2 == 0) _warpPast(latest.challengeDeadline);
        try market.finalize(taskId) {} catch {}
        uint32 last = market.getTask(taskId).lastRound;
        RoundClaim[] memory buffer = new RoundClaim[](ROUNDS);
        uint256 count = 0;
        for (uint32 r = 1; r <= last; r++) {
            if ((mask % 4 == 3 && (mask >> (r + 1)) & 1 == 0) || _tree[r][i] == 0) continue;
            if (!_revealed(r, who) && (mask >> 7) & 1 == 0) continue;
            if (market.getRound(taskId, r).status != 4 && (mask >> 6) & 1 == 0) continue;
            buffer[count].round = r;
            buffer[count].amount = _tree[r][i];
            buffer[count].proof = MerkleHelper.proof(taskId, r, _accounts(), _values(_tree[r]), who);
            count++;
        }
        if (count == 0) return;
        RoundClaim[] memory claims = new RoundClaim[](count);
        for (uint256 k = 0; k < count; k++) {
            claims[k] = buffer[k];
        }
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        try market.claim(taskId, claims) {
            successes[count > 1 ? "claimSeveral" : "claim"]++;
            uint256 paid = token.balanceOf(who) - before;
            ghostClaimedPaid += paid;
            uint256 expected = 0;
            for (uint256 k = 0; k < count; k++) {
                uint32 r = claims[k].round;
                if (!_revealed(r, who)) _violation("claim paid a non-revealer");
                ghostRoundClaimed[r] += claims[k].amount;
                expected += claims[k].amount;
            }
            if (paid != expected) _violation("claim paid a wrong amount");
        } catch {}
        _observe();
    }

    function slash(uint256 roundSeed, uint256 seed) external {
        uint32 last = market.getTask(taskId).lastRound;
        if (last == 0) return;
        uint32 r = uint32(bound(roundSeed, 1, last));
        try market.slash(taskId, r, _participants[seed % N]) {
            successes["slash"]++;
        } catch {}
    }

    function windDown() external {
        try market.windDown(taskId) {
            successes["windDown"]++;
        } catch {}
        _observe();
    }

    function withdrawStake(uint256 seed) external {
        _withdrawStake(_participants[seed % N]);
        _observe();
    }

    function _withdrawStake(address who) internal {
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        try market.withdrawStake(taskId) {
            uint256 got = token.balanceOf(who) - before;
            ghostStakeWithdrawn += got;
            ghostWithdrawnBy[who] += got;
        } catch {}
    }

    function publishValidation() external {
        vm.prank(requester);
        market.publishValidation(taskId, "validation");
    }

    function refund() external {
        _refund();
        _observe();
    }

    function _refund() internal {
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        try market.refund(taskId) {
            successes["refund"]++;
            ghostRefunded += token.balanceOf(requester) - before;
        } catch {}
    }

    function withdrawCredit(uint256 seed) external {
        address[] memory list = actors();
        _withdrawCredit(list[seed % list.length]);
    }

    function _withdrawCredit(address who) internal {
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        try market.withdrawCredit() {
            ghostCreditsWithdrawn += token.balanceOf(who) - before;
        } catch {}
    }

    /// @dev Once the task ended: every deadline passes and every party takes what it is
    /// owed. Afterwards the marketplace must hold nothing (checked by the invariant test).
    function drain() external {
        try market.finalize(taskId) {} catch {}
        uint8 status = market.getTask(taskId).status;
        if (status != 2 && status != 3) return;
        _warpPast(market.getTask(taskId).claimDeadline);
        uint32 last = market.getTask(taskId).lastRound;
        for (uint256 c = 0; c < C; c++) {
            for (uint32 r = 1; r <= last; r++) {
                _collect(_challengers[c], r);
            }
        }
        for (uint256 i = 0; i < N; i++) {
            _withdrawStake(_participants[i]);
        }
        vm.prank(requester);
        market.publishValidation(taskId, "validation");
        _refund();
        address[] memory list = actors();
        for (uint256 i = 0; i < list.length; i++) {
            _withdrawCredit(list[i]);
        }
        drained = true;
        successes["drain"]++;
        if (last == ROUNDS) successes["drainAfterAllRounds"]++;
    }
}
