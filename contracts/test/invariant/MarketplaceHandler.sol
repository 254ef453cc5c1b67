// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {RoundInfo, TaskInfo, TaskParams} from "../../src/MarketplaceTypes.sol";
import {RewardToken} from "../../src/RewardToken.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";
import {TestBase} from "../utils/TestBase.sol";

/// @notice Drives one task through random sequences of every Marketplace action, from a fixed
/// cast of actors, and keeps ghost books the invariants compare with the contract's state.
/// Calls that revert are simply skipped by the fuzzer (fail_on_revert = false).
contract MarketplaceHandler is TestBase {
    uint32 internal constant ROUNDS = 4;
    uint128 internal constant BUDGET = 100 ether;
    uint128 internal constant BOND = 1 ether;
    uint256 internal constant N = 4; // participants

    RewardToken public immutable token;
    Marketplace public immutable market;
    uint256 public immutable taskId;
    address public requester;
    address public aggregator;
    address public arbiter;
    address public challenger;
    address[N] internal _participants;

    // ghost books
    uint256 public ghostStaked;
    uint256 public ghostStakeWithdrawn;
    uint256 public ghostBondsPosted;
    uint256 public ghostCreditsWithdrawn;
    uint256 public ghostClaimedPaid;
    mapping(address => uint256) public ghostStakedBy;
    mapping(address => uint256) public ghostWithdrawnBy;
    mapping(address => uint256) public ghostClaimPaidTo;
    /// @dev cumulative entitlement per round's proposed tree (round => participant index => amount)
    mapping(uint32 => uint256[N]) internal _proposed;
    mapping(address => uint256) public maxFinalEntitlement;
    uint256[N] internal _honestCumulative; // cumulative entitlements of the last final round

    /// @dev Deploys the token (owning it, to mint for actors) and the marketplace.
    constructor() {
        token = new RewardToken();
        market = new Marketplace(IERC20(address(token)));
        requester = makeAddr("inv-requester");
        aggregator = makeAddr("inv-aggregator");
        arbiter = makeAddr("inv-arbiter");
        challenger = makeAddr("inv-challenger");
        for (uint256 i = 0; i < N; i++) {
            _participants[i] = makeAddr(string.concat("inv-p", vm.toString(i)));
        }
        TaskParams memory p;
        p.specCid = "bafkreispec";
        p.initialModelCid = "m0";
        p.rounds = ROUNDS;
        p.roundBudget = BUDGET;
        p.minStake = 1 ether;
        p.commitWindow = 100;
        p.revealWindow = 100;
        p.settleWindow = 200;
        p.challengeWindow = 300;
        p.aggregator = aggregator;
        p.arbiter = arbiter;
        p.settleBond = BOND;
        p.slashBps = 2_500;
        p.maxSamples = 1_000;
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

    function actors() external view returns (address[] memory list) {
        list = new address[](N + 4);
        for (uint256 i = 0; i < N; i++) {
            list[i] = _participants[i];
        }
        list[N] = requester;
        list[N + 1] = aggregator;
        list[N + 2] = arbiter;
        list[N + 3] = challenger;
    }

    function _who(uint256 seed) internal view returns (address) {
        return _participants[seed % N];
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

    function _cid(uint32 round) internal pure returns (string memory) {
        return round == 0 ? "m0" : string.concat("m", vm.toString(round));
    }

    function _salt(address who, uint32 round) internal pure returns (bytes32) {
        return keccak256(abi.encode(who, round));
    }

    /// @dev After every action: learn a newly final settlement (finalization is lazy).
    function _observe() internal {
        TaskInfo memory t = market.getTask(taskId);
        uint32 r = t.lastFinalRound;
        if (r == 0) return;
        uint256[N] memory e = _proposed[r];
        for (uint256 i = 0; i < N; i++) {
            _honestCumulative[i] = e[i];
            if (e[i] > maxFinalEntitlement[_participants[i]]) {
                maxFinalEntitlement[_participants[i]] = e[i];
            }
        }
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

    // ------------------------------------------------------------ actions

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 400));
    }

    function join(uint256 seed, uint256 stake) external {
        address who = _who(seed);
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
        TaskInfo memory t = market.getTask(taskId);
        // the expected model: the last final round's model (or the initial one)
        string memory cid = _cid(t.lastFinalRound);
        vm.prank(aggregator);
        try market.openRound(taskId, cid) {} catch {}
        _observe();
    }

    function _digest(address who, uint32 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("digest", who, round));
    }

    function commit(uint256 seed) external {
        address who = _who(seed);
        uint32 r = market.getTask(taskId).lastRound;
        bytes32 c = market.commitmentFor(taskId, r, "u", _digest(who, r), 10, who, _salt(who, r));
        vm.prank(who);
        try market.commit(taskId, c) {} catch {}
    }

    function reveal(uint256 seed) external {
        address who = _who(seed);
        (uint32 r, RoundInfo memory info) = _current();
        if (info.status == 1) _warpPast(info.commitDeadline);
        bytes32 digest = _digest(who, r);
        bytes32 salt = _salt(who, r);
        vm.prank(who);
        try market.reveal(taskId, "u", digest, 10, salt) {} catch {}
    }

    /// @dev Settles with a cumulative tree adding `paid` spread over participants; when
    /// `inflate` is odd the tree promises more than `paid` (a bad root).
    function settle(uint256 paid, uint256 split, uint256 inflate) external {
        (uint32 r, RoundInfo memory info) = _current();
        if (info.status == 1) _warpPast(info.revealDeadline);
        paid = bound(paid, 0, BUDGET);
        uint256[N] memory next = _honestCumulative;
        uint256 i = split % N;
        next[i] += paid / 2;
        next[(i + 1) % N] += paid - paid / 2;
        if (inflate % 2 == 1) next[(i + 2) % N] += BUDGET;
        bytes32 root = MerkleHelper.root(_accounts(), _values(next));
        _fund(aggregator, BOND);
        vm.prank(aggregator);
        try market.settle(taskId, _cid(r), "report", root, paid) {
            _proposed[r] = next;
            ghostBondsPosted += BOND;
        } catch {}
    }

    function challenge() external {
        uint32 r = market.getTask(taskId).lastRound;
        _fund(challenger, BOND);
        vm.prank(challenger);
        try market.challenge(taskId, r, "evidence") {
            ghostBondsPosted += BOND;
        } catch {}
    }

    function resolve(bool upheld) external {
        uint32 r = market.getTask(taskId).lastRound;
        vm.prank(arbiter);
        try market.resolve(taskId, r, upheld) {} catch {}
        _observe();
    }

    function finalize() external {
        (, RoundInfo memory info) = _current();
        if (info.status == 2) _warpPast(info.challengeDeadline);
        try market.finalize(taskId) {} catch {}
        _observe();
    }

    function claim(uint256 seed) external {
        address who = _who(seed);
        // make any due finalization visible before building the proof
        try market.finalize(taskId) {} catch {}
        _observe();
        uint256 amount = _honestCumulative[seed % N];
        bytes32[] memory proof = MerkleHelper.proof(_accounts(), _values(_honestCumulative), who);
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        try market.claim(taskId, amount, proof) {
            uint256 paid = token.balanceOf(who) - before;
            ghostClaimedPaid += paid;
            ghostClaimPaidTo[who] += paid;
        } catch {}
    }

    function slash(uint256 roundSeed, uint256 seed) external {
        uint32 last = market.getTask(taskId).lastRound;
        if (last == 0) return;
        uint32 r = uint32(bound(roundSeed, 1, last));
        try market.slash(taskId, r, _who(seed)) {} catch {}
    }

    function windDown() external {
        try market.windDown(taskId) {} catch {}
    }

    function withdrawStake(uint256 seed) external {
        address who = _who(seed);
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        try market.withdrawStake(taskId) {
            uint256 got = token.balanceOf(who) - before;
            ghostStakeWithdrawn += got;
            ghostWithdrawnBy[who] += got;
        } catch {}
        _observe();
    }

    function refund() external {
        vm.prank(requester);
        try market.refund(taskId) {} catch {}
        _observe();
    }

    function withdrawCredit(uint256 seed) external {
        address who = seed % 3 == 0 ? aggregator : seed % 3 == 1 ? challenger : requester;
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        try market.withdrawCredit() {
            ghostCreditsWithdrawn += token.balanceOf(who) - before;
        } catch {}
    }
}
