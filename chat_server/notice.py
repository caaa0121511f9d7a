"""The one sentence every surface carries: CareChat is not for emergencies."""

EMERGENCY_NOTICE = (
    "CareChat is not for emergencies. In an emergency call 112 (EU), "
    "100 in Belgium or 15 in France."
)
