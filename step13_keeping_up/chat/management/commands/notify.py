"""python manage.py notify USERNAME TEXT: notify one user, on every page they have open."""

from django.contrib.auth.models import User
from django.core.management import BaseCommand, CommandError

from chat.push import notification_group, push_to_group


class Command(BaseCommand):
    help = "Show TEXT as a notification on every page USERNAME has open right now."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("text")

    def handle(self, username, text, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(
                f'No user is named "{username}": a username must be an existing account '
                "(see the admin, or sign up)."
            ) from None
        push_to_group(notification_group(user), {"type": "notification", "text": text})
        self.stdout.write(f'Notified "{username}" on every page they have open right now.')
