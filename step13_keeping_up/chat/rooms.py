"""Which room names the chat accepts: one rule for the page, the URLs and the socket.

Why these limits: from step 03 on, each room becomes a channel-layer group named
"chat_<room name>", and Channels only accepts group names made of ASCII letters,
digits, hyphens, underscores and periods, shorter than 100 characters. "chat_" takes
5 of those, so a room name may have at most 94. It must start with a letter or a
digit so that names such as ".." cannot play tricks with the URL.
"""

import re

ROOM_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,93}"

ROOM_NAME_RULE = (
    "A room name has 1 to 94 characters: letters A-Z or a-z, digits, "
    "'-', '_' or '.', and starts with a letter or a digit."
)


def is_valid_room_name(name):
    return re.fullmatch(ROOM_NAME_PATTERN, name) is not None
