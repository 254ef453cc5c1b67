// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {RewardToken} from "../src/RewardToken.sol";
import {TestBase} from "./utils/TestBase.sol";

contract RewardTokenTest is TestBase {
    RewardToken internal token;
    address internal holder;

    function setUp() public {
        token = new RewardToken();
        holder = makeAddr("holder");
    }

    function testMetadata() public view {
        vm.assertEq(keccak256(bytes(token.name())), keccak256("fedmarket Reward Token"), "name");
        vm.assertEq(keccak256(bytes(token.symbol())), keccak256("FMT"), "symbol");
        vm.assertEq(token.decimals(), 18, "decimals");
        vm.assertEq(token.owner(), address(this), "deployer owns");
    }

    function testMint() public {
        token.mint(holder, 5 ether);
        vm.assertEq(token.balanceOf(holder), 5 ether, "balance");
        vm.assertEq(token.totalSupply(), 5 ether, "supply");
    }

    function testMint(uint96 amount) public {
        token.mint(holder, amount);
        token.mint(holder, amount);
        vm.assertEq(token.balanceOf(holder), 2 * uint256(amount), "balance");
    }

    function testMintRevertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, holder));
        vm.prank(holder);
        token.mint(holder, 1);
    }
}
