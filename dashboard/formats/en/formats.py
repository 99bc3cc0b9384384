"""Date formats for English pages (the admin above all): every time carries its zone ("T"), since
pages, emails and the admin may be read by people in other zones than TIME_ZONE."""

from __future__ import annotations

DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "d/m/Y H:i T"
DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i T"
# What the admin's date and time inputs accept, as Django's en_GB formats do.
DATE_INPUT_FORMATS = ["%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d"]
DATETIME_INPUT_FORMATS = ["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
