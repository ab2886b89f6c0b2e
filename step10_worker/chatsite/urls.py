"""URL configuration for chatsite: the chat app lives under /chat/, accounts under /accounts/."""

from django.contrib import admin
from django.urls import include, path

from chat import views as chat_views

urlpatterns = [
    path("chat/", include("chat.urls")),
    # Django's own login, logout and password views: /accounts/login/, /accounts/logout/, ...
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/signup/", chat_views.signup, name="signup"),
    path("admin/", admin.site.urls),
]
