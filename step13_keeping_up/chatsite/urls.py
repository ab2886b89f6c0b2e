"""URL configuration for chatsite: the chat app lives under /chat/, accounts under /accounts/."""

from django.contrib import admin
from django.urls import include, path

from chat import views as chat_views

urlpatterns = [
    path("chat/", include("chat.urls")),
    # Follow a log file live (a Celery job): outside /chat/, where every name is a room.
    path("logs/", chat_views.logs, name="logs"),
    # Django's own login, logout and password views: /accounts/login/, /accounts/logout/, ...
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/signup/", chat_views.signup, name="signup"),
    path("admin/", admin.site.urls),
]
