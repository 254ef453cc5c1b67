"""Decoding reverts (custom errors, `Error(string)`, panics) into :class:`ContractRevert`.

The decoded error carries its sentence and hint from the revert table
(:mod:`marketplace.chain.revert_messages`), so every caller shows the same words.
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector

from marketplace.chain.revert_messages import explain
from marketplace.errors import ContractRevert

_ERROR_STRING = function_signature_to_4byte_selector("Error(string)")
_PANIC = function_signature_to_4byte_selector("Panic(uint256)")


def _abi_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


class RevertDecoder:
    """Maps revert data to named errors using the custom errors declared in ABIs."""

    def __init__(self, *abis: list[dict[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                inputs = item.get("inputs", [])
                types = [_abi_type(p) for p in inputs]
                names = [str(p.get("name") or f"arg{i}") for i, p in enumerate(inputs)]
                signature = f"{item['name']}({','.join(types)})"
                self._errors[function_signature_to_4byte_selector(signature)] = (
                    item["name"],
                    types,
                    names,
                )

    def decode(self, data: bytes | str | None, *, function: str = "") -> ContractRevert:
        """The named revert for ``data`` (hex string or bytes); unknown data stays readable."""
        raw = _to_bytes(data)
        if len(raw) < 4:
            return named_revert("Reverted", [], [], (), function)
        selector, body = raw[:4], raw[4:]
        try:
            if selector == _ERROR_STRING:
                values = abi_decode(["string"], body)
                return named_revert("Error", ["string"], ["message"], values, function)
            if selector == _PANIC:
                values = abi_decode(["uint256"], body)
                return named_revert("Panic", ["uint256"], ["code"], values, function)
            if selector in self._errors:
                name, types, names = self._errors[selector]
                values = abi_decode(types, body)
                return named_revert(name, types, names, values, function)
        except Exception:  # malformed revert data: report the selector rather than crash
            pass
        return ContractRevert(f"UnknownError(0x{selector.hex()})", (), function=function)


def named_revert(
    name: str, types: list[str], names: list[str], values: Any, function: str = ""
) -> ContractRevert:
    """A ContractRevert with its sentence and hint from the revert table."""
    args = tuple(_readable(v) for v in values)
    explained = explain(
        name, dict(zip(names, zip(types, args, strict=True), strict=True)), function
    )
    if explained is None:
        return ContractRevert(name, args, function=function)
    message, hint = explained
    return ContractRevert(name, args, function=function, message=message, hint=hint)


def _readable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _to_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    text = data[2:] if data.startswith("0x") else data
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def revert_data_from_exception(exc: BaseException) -> str | None:
    """Dig the revert data out of the exception shapes web3 raises for calls and estimates."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return data
    if isinstance(data, dict):
        inner = data.get("data")
        if isinstance(inner, str):
            return inner
        # Ganache's gas estimate puts the revert data under "result"
        result = data.get("result")
        if isinstance(result, str) and result.startswith("0x") and len(result) >= 10:
            return result
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, dict):
            inner = arg.get("data")
            if isinstance(inner, str) and inner.startswith("0x"):
                return inner
            if isinstance(inner, dict) and isinstance(inner.get("data"), str):
                return str(inner["data"])
        if isinstance(arg, str) and arg.startswith("0x") and len(arg) >= 10:
            return arg
    return None
