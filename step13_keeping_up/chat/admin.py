from django.contrib import admin

from .models import Message


# /admin/ lists the stored messages: filter by room, search the text, and delete
# what should not be kept.
@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created", "room", "user", "text"]
    list_filter = ["room"]
    search_fields = ["text", "user__username"]
    # The user column follows a foreign key: fetch the users in the same query.
    list_select_related = ["user"]
