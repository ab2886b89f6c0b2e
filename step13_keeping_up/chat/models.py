"""The chat's one model: every message a room accepted, kept for whoever joins later."""

from django.conf import settings
from django.db import models


class Message(models.Model):
    # Rooms are URL names, not rows of their own: a message keeps its room's
    # name (at most 94 characters, see rooms.py).
    room = models.CharField(max_length=100)
    # Who said it. Deleting an account deletes its messages too.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.TextField()
    # Set by the database layer when the row is created, never by the client.
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The one query the chat makes on every join: "the last 50 messages
            # of this room". With this index the database reads just those rows,
            # however many messages other rooms hold.
            models.Index(fields=["room", "created"], name="chat_message_room_created"),
        ]

    def as_frame(self):
        """The message as the room page receives it: JSON-ready, with its id and time."""
        return {
            "id": self.id,
            "user": self.user.username,
            "message": self.text,
            "created": self.created.isoformat(),
        }
