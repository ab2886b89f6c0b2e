"""Consumers handle WebSocket events, the way views handle HTTP requests."""

import json

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer


class ChatConsumer(WebsocketConsumer):
    def connect(self):
        # The room comes from the URL, as captured by routing.py.
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"

        # Join the room's group. The channel layer's methods are async;
        # async_to_sync lets this synchronous consumer call them.
        async_to_sync(self.channel_layer.group_add)(self.room_group_name, self.channel_name)
        self.accept()

    def disconnect(self, close_code):
        # Leave the room's group.
        async_to_sync(self.channel_layer.group_discard)(self.room_group_name, self.channel_name)

    def receive(self, text_data):
        # Called for every frame the browser sends: {"message": "..."}.
        text_data_json = json.loads(text_data)
        message = text_data_json["message"]

        # Send it to everyone in the room. "type" names the handler that each
        # member's consumer runs: "chat.message" calls chat_message() below.
        async_to_sync(self.channel_layer.group_send)(
            self.room_group_name, {"type": "chat.message", "message": message}
        )

    def chat_message(self, event):
        # Called once in each member's consumer for every group message.
        message = event["message"]

        # Send it down this member's socket.
        self.send(text_data=json.dumps({"message": message}))
