"""profile: the webhook's user."""

from __future__ import annotations

from typing import Any

from b24emu.methods import Ctx, Result, method


@method("profile")
def profile(params: dict[str, Any], ctx: Ctx) -> Result:
    return Result({
        "ID": str(ctx.user_id),
        "ADMIN": True,
        "NAME": "Emulator",
        "LAST_NAME": "Admin",
        "PERSONAL_GENDER": "",
        "PERSONAL_PHOTO": None,
        "TIME_ZONE": "",
        "TIME_ZONE_OFFSET": 10800,
    })
