from django.shortcuts import render

from .rooms import ROOM_NAME_PATTERN, ROOM_NAME_RULE


def index(request):
    # The page checks names with the same pattern the server uses (see rooms.py).
    return render(
        request,
        "chat/index.html",
        {"room_name_pattern": ROOM_NAME_PATTERN, "room_name_rule": ROOM_NAME_RULE},
    )
