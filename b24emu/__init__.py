"""b24emu: a local Bitrix24 portal emulator speaking the real REST wire format."""

from __future__ import annotations

__all__ = ["EmulatorServer"]


def __getattr__(name: str):  # lazy: `import b24emu.phpquery` must not start importing the server
    if name == "EmulatorServer":
        from b24emu.server import EmulatorServer

        return EmulatorServer
    raise AttributeError(name)
