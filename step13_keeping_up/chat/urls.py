from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    # <path:...> rather than <str:...>: it also takes names with "/" in them,
    # so that views.room can explain the rule for every name it refuses.
    path("<path:room_name>/", views.room, name="room"),
]
