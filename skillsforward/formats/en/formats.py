"""English dates as the product has always written them ("3 December 2026", "3 Dec 2026, 14:05"),
for a worldwide audience rather than Django's US defaults. Other languages use Django's formats."""

DATE_FORMAT = "j F Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M, H:i"
