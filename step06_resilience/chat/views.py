from django.shortcuts import render

from .rooms import ROOM_NAME_PATTERN, ROOM_NAME_RULE, is_valid_room_name


def index(request):
    # The page checks names with the same pattern the server uses (see rooms.py).
    return render(
        request,
        "chat/index.html",
        {"room_name_pattern": ROOM_NAME_PATTERN, "room_name_rule": ROOM_NAME_RULE},
    )


def room(request, room_name):
    if not is_valid_room_name(room_name):
        # Say why, instead of serving a page whose socket can never connect.
        return render(
            request,
            "chat/index.html",
            {
                "room_name_pattern": ROOM_NAME_PATTERN,
                "room_name_rule": ROOM_NAME_RULE,
                "error": f'"{room_name}" is not a room name. {ROOM_NAME_RULE}',
            },
            status=404,
        )
    return render(request, "chat/room.html", {"room_name": room_name})
