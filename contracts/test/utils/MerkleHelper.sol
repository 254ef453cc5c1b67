// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Builds the cumulative payout tree the Marketplace verifies, on the Solidity side.
/// @dev Tree shape (mirrored by marketplace/merkle.py): one leaf per account,
/// leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))); leaves are
/// ordered by account address (ascending); each level pairs nodes (0,1), (2,3), ... with
/// OpenZeppelin's sorted-pair hash (keccak256 of the smaller then the larger), and an odd last
/// node moves up unchanged. One leaf: root = leaf, empty proof. No leaf: root = 0.
library MerkleHelper {
    function leaf(address account, uint256 cumulativeAmount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @dev Leaves of (accounts[i], amounts[i]) in tree order (accounts sorted ascending).
    function leaves(address[] memory accounts, uint256[] memory amounts)
        internal
        pure
        returns (bytes32[] memory nodes, address[] memory sorted)
    {
        uint256 n = accounts.length;
        sorted = new address[](n);
        uint256[] memory values = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            // insertion sort: test trees are small
            uint256 j = i;
            while (j > 0 && sorted[j - 1] > accounts[i]) {
                sorted[j] = sorted[j - 1];
                values[j] = values[j - 1];
                j--;
            }
            sorted[j] = accounts[i];
            values[j] = amounts[i];
        }
        nodes = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            nodes[i] = leaf(sorted[i], values[i]);
        }
    }

    function root(address[] memory accounts, uint256[] memory amounts)
        internal
        pure
        returns (bytes32)
    {
        (bytes32[] memory nodes,) = leaves(accounts, amounts);
        if (nodes.length == 0) return bytes32(0);
        uint256 n = nodes.length;
        while (n > 1) {
            uint256 m = (n + 1) / 2;
            for (uint256 i = 0; i < n / 2; i++) {
                nodes[i] = hashPair(nodes[2 * i], nodes[2 * i + 1]);
            }
            if (n % 2 == 1) nodes[m - 1] = nodes[n - 1];
            n = m;
        }
        return nodes[0];
    }

    function proof(address[] memory accounts, uint256[] memory amounts, address account)
        internal
        pure
        returns (bytes32[] memory path)
    {
        (bytes32[] memory nodes, address[] memory sorted) = leaves(accounts, amounts);
        uint256 index = type(uint256).max;
        for (uint256 i = 0; i < sorted.length; i++) {
            if (sorted[i] == account) index = i;
        }
        require(index != type(uint256).max, "MerkleHelper: unknown account");
        bytes32[] memory buffer = new bytes32[](64);
        uint256 depth = 0;
        uint256 n = nodes.length;
        while (n > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < n) buffer[depth++] = nodes[sibling];
            uint256 m = (n + 1) / 2;
            for (uint256 i = 0; i < n / 2; i++) {
                nodes[i] = hashPair(nodes[2 * i], nodes[2 * i + 1]);
            }
            if (n % 2 == 1) nodes[m - 1] = nodes[n - 1];
            index /= 2;
            n = m;
        }
        path = new bytes32[](depth);
        for (uint256 i = 0; i < depth; i++) {
            path[i] = buffer[i];
        }
    }
}
