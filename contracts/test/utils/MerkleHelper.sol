// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Builds the per-round payout tree the Marketplace verifies, on the Solidity side.
/// @dev Same shape as marketplace/merkle.py's PayoutTree: one leaf per account with a non-zero
/// amount, leaf = keccak256(bytes.concat(keccak256(abi.encode(uint256 taskId, uint32 round,
/// address account, uint256 amount)))); leaves sorted by their hash (ascending); each level
/// pairs nodes (0,1), (2,3), ... with OpenZeppelin's sorted-pair hash, and an odd last node moves
/// up unchanged. One leaf: root = leaf, empty proof. No leaf: root = 0.
library MerkleHelper {
    function leaf(uint256 taskId, uint32 round, address account, uint256 amount)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(taskId, round, account, amount))));
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @dev The leaves of the non-zero (accounts[i], amounts[i]) in tree order.
    function leaves(
        uint256 taskId,
        uint32 round,
        address[] memory accounts,
        uint256[] memory amounts
    ) internal pure returns (bytes32[] memory nodes) {
        uint256 count = 0;
        bytes32[] memory buffer = new bytes32[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) {
            if (amounts[i] == 0) continue;
            bytes32 h = leaf(taskId, round, accounts[i], amounts[i]);
            // insertion sort: test trees are small
            uint256 j = count++;
            while (j > 0 && buffer[j - 1] > h) {
                buffer[j] = buffer[j - 1];
                j--;
            }
            buffer[j] = h;
        }
        nodes = new bytes32[](count);
        for (uint256 i = 0; i < count; i++) {
            nodes[i] = buffer[i];
        }
    }

    function root(uint256 taskId, uint32 round, address[] memory accounts, uint256[] memory amounts)
        internal
        pure
        returns (bytes32)
    {
        bytes32[] memory nodes = leaves(taskId, round, accounts, amounts);
        if (nodes.length == 0) return bytes32(0);
        uint256 n = nodes.length;
        while (n > 1) {
            n = _up(nodes, n);
        }
        return nodes[0];
    }

    /// @dev The sibling path of `account`'s leaf (its amount must be non-zero).
    function proof(
        uint256 taskId,
        uint32 round,
        address[] memory accounts,
        uint256[] memory amounts,
        address account
    ) internal pure returns (bytes32[] memory path) {
        bytes32[] memory nodes = leaves(taskId, round, accounts, amounts);
        bytes32 target;
        for (uint256 i = 0; i < accounts.length; i++) {
            if (accounts[i] == account) target = leaf(taskId, round, account, amounts[i]);
        }
        uint256 index = type(uint256).max;
        for (uint256 i = 0; i < nodes.length; i++) {
            if (nodes[i] == target) index = i;
        }
        require(index != type(uint256).max, "MerkleHelper: no leaf for account");
        bytes32[] memory buffer = new bytes32[](64);
        uint256 depth = 0;
        uint256 n = nodes.length;
        while (n > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < n) buffer[depth++] = nodes[sibling];
            n = _up(nodes, n);
            index /= 2;
        }
        path = new bytes32[](depth);
        for (uint256 i = 0; i < depth; i++) {
            path[i] = buffer[i];
        }
    }

    /// @dev Replaces the first `n` nodes by the next level in place; returns its size.
    function _up(bytes32[] memory nodes, uint256 n) private pure returns (uint256 m) {
        m = (n + 1) / 2;
        for (uint256 i = 0; i < n / 2; i++) {
            nodes[i] = hashPair(nodes[2 * i], nodes[2 * i + 1]);
        }
        if (n % 2 == 1) nodes[m - 1] = nodes[n - 1];
    }
}
