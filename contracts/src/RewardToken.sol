// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title fedmarket Reward Token
/// @notice The ERC-20 (18 decimals) in which fedmarket budgets, stakes, bonds and rewards are paid.
/// @dev Minted by its owner (a devnet faucet or deployer); nothing else is special about it.
contract RewardToken is ERC20, Ownable {
    /// @notice The deployer becomes the owner, the only account allowed to mint.
    constructor() ERC20("fedmarket Reward Token", "FMT") Ownable(msg.sender) {}

    /// @notice Creates `amount` tokens (in wei units) for `to`.
    /// @dev Only the owner; reverts with OwnableUnauthorizedAccount otherwise.
    /// @param to the recipient of the new tokens
    /// @param amount the amount to create
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
