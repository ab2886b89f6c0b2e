from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpResponseForbidden
from django.shortcuts import redirect, render

from .rooms import ROOM_NAME_PATTERN, ROOM_NAME_RULE, is_valid_room_name


# login_required: a visitor who is not logged in is sent to the login page
# (settings.LOGIN_URL), and back here afterwards.
@login_required
def index(request):
    # The page checks names with the same pattern the server uses (see rooms.py).
    return render(
        request,
        "chat/index.html",
        {"room_name_pattern": ROOM_NAME_PATTERN, "room_name_rule": ROOM_NAME_RULE},
    )


@login_required
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


@login_required
def logs(request):
    # Server logs are for staff only (createsuperuser makes a staff user). Say so
    # with a 403: sending them to log in again, where they are logged in, helps nobody.
    if not request.user.is_staff:
        return HttpResponseForbidden("Only staff can follow server logs.")
    # The page offers the names in settings.FOLLOWED_LOGS, never their paths.
    return render(request, "chat/logs.html", {"log_names": list(settings.FOLLOWED_LOGS)})


def signup(request):
    # A workshop room needs accounts in seconds: pick a name and a password, and
    # you are logged in. UserCreationForm is Django's own: it checks that the name
    # is free and runs the password validators from settings.py.
    if request.method == "POST":
        form = UserCreationForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user)
            return redirect("index")
    else:
        form = UserCreationForm()
    return render(request, "registration/signup.html", {"form": form})
