// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @notice The test-side tree builder agrees with OpenZeppelin's verifier for any tree size.
contract MerkleHelperTest is TestBase {
    function tree(uint256 n, uint256 seed)
        internal
        pure
        returns (address[] memory accounts, uint256[] memory values)
    {
        accounts = new address[](n);
        values = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            accounts[i] = address(uint160(uint256(keccak256(abi.encode(seed, i)))));
            values[i] = 1 + uint256(keccak256(abi.encode(seed, i, "v"))) % 1e24;
        }
    }

    function testEveryProofVerifies() public pure {
        (address[] memory a, uint256[] memory v) = tree(5, 1);
        bytes32 root = MerkleHelper.root(7, 2, a, v);
        for (uint256 i = 0; i < a.length; i++) {
            bytes32[] memory proof = MerkleHelper.proof(7, 2, a, v, a[i]);
            vm.assertTrue(
                MerkleProof.verify(proof, root, MerkleHelper.leaf(7, 2, a[i], v[i])), "verifies"
            );
            vm.assertFalse(
                MerkleProof.verify(proof, root, MerkleHelper.leaf(7, 2, a[i], v[i] + 1)),
                "other amount rejected"
            );
            vm.assertFalse(
                MerkleProof.verify(proof, root, MerkleHelper.leaf(7, 3, a[i], v[i])),
                "other round rejected"
            );
            vm.assertFalse(
                MerkleProof.verify(proof, root, MerkleHelper.leaf(8, 2, a[i], v[i])),
                "other task rejected"
            );
        }
    }

    function testEveryProofVerifies(uint8 size, uint256 seed, uint32 round) public pure {
        uint256 n = bound(size, 1, 40);
        (address[] memory a, uint256[] memory v) = tree(n, seed);
        bytes32 root = MerkleHelper.root(seed, round, a, v);
        uint256 i = seed % n;
        bytes32[] memory proof = MerkleHelper.proof(seed, round, a, v, a[i]);
        vm.assertTrue(
            MerkleProof.verify(proof, root, MerkleHelper.leaf(seed, round, a[i], v[i])), "verifies"
        );
    }

    function testLeafEncoding() public pure {
        address account = address(0xA11CE);
        bytes32 inner = keccak256(
            abi.encodePacked(uint256(3), uint256(uint32(9)), uint256(uint160(account)), uint256(5))
        );
        vm.assertEq(
            MerkleHelper.leaf(3, 9, account, 5), keccak256(abi.encodePacked(inner)), "encoding"
        );
    }

    function testTreeShape() public pure {
        (address[] memory a, uint256[] memory v) = tree(3, 2);
        bytes32[] memory leaves = MerkleHelper.leaves(1, 1, a, v);
        vm.assertTrue(leaves[0] < leaves[1] && leaves[1] < leaves[2], "leaves sorted by hash");
        // three leaves: hash(l0, l1), then l2 moves up and pairs with it
        bytes32 expected =
            MerkleHelper.hashPair(MerkleHelper.hashPair(leaves[0], leaves[1]), leaves[2]);
        vm.assertEq(MerkleHelper.root(1, 1, a, v), expected, "shape");

        address[] memory none = new address[](0);
        vm.assertEq(MerkleHelper.root(1, 1, none, new uint256[](0)), bytes32(0), "empty tree");
        v[0] = 0;
        vm.assertEq(MerkleHelper.leaves(1, 1, a, v).length, 2, "zero amounts are left out");
    }
}
