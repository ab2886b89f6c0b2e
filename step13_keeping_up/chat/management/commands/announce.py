"""python manage.py announce ROOM TEXT: say something in a room, from outside the chat."""

from django.core.management import BaseCommand, CommandError

from chat.push import push_to_group
from chat.rooms import ROOM_NAME_RULE, is_valid_room_name


class Command(BaseCommand):
    help = "Show TEXT as an announcement to everyone in ROOM right now."

    def add_arguments(self, parser):
        parser.add_argument("room")
        parser.add_argument("text")

    def handle(self, room, text, **options):
        if not is_valid_room_name(room):
            raise CommandError(f'"{room}" is not a room name. {ROOM_NAME_RULE}')
        # The room's group, as ChatConsumer names it; chat_announcement() handles it.
        push_to_group(f"chat_{room}", {"type": "chat.announcement", "text": text})
        self.stdout.write(f'Announced in room "{room}" to everyone there right now.')
