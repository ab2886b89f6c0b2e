from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"

    def ready(self):
        from .push import close_sockets_of_session  # here: once every app is loaded

        user_logged_out.connect(close_sockets_of_session)
