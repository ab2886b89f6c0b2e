"""Send one message into a step's channel layer from an ordinary Python process.

This is the shape of every "push from outside" job: a management command, a
Celery task, a cron script, a log tail. Such code is synchronous and runs no
event loop, so it calls the channel layer's async methods through async_to_sync
(which Jupyter cannot do: see notebook 1). Step 09's chat/push.py is the same
thing inside the project, for its `notify` and `announce` commands.

    python notebooks/push.py --project step05_tests --group chat_lobby "Hello, room"
    python notebooks/push.py --project step05_tests --channel NAME "Just for you"

The project's settings choose the channel layer, so REDIS_URL must name the same
Redis the server uses. --in-memory uses Channels' in-memory layer instead, to show
that it cannot reach any other process.
"""

import argparse
import os
import pathlib
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="a step folder: its settings are used")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--group", help="send to every member of this group")
    target.add_argument("--channel", help="send to this one channel")
    parser.add_argument("--type", default="chat.message", help="the handler to run")
    parser.add_argument("--in-memory", action="store_true", help="use the in-memory layer")
    parser.add_argument("message", help="the text, sent as the event's 'message'")
    args = parser.parse_args(argv)

    # Configure Django from the project's settings, as manage.py would.
    sys.path.insert(0, str(pathlib.Path(args.project).resolve()))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()

    from asgiref.sync import async_to_sync
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = InMemoryChannelLayer() if args.in_memory else get_channel_layer()
    event = {"type": args.type, "message": args.message}
    if args.group:
        async_to_sync(layer.group_send)(args.group, event)
        where = f"group {args.group}"
    else:
        async_to_sync(layer.send)(args.channel, event)
        where = f"channel {args.channel}"
    print(f"sent {event} to {where} through {type(layer).__name__}")


if __name__ == "__main__":
    main()
