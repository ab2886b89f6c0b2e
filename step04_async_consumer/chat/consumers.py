"""Consumers handle WebSocket events, the way views handle HTTP requests."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        # The room comes from the URL, as captured by routing.py.
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"

        # Join the room's group. The channel layer's methods are async,
        # and so is this consumer now: it simply awaits them.
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        # Leave the room's group.
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data):
        # Called for every frame the browser sends: {"message": "..."}.
        text_data_json = json.loads(text_data)
        message = text_data_json["message"]

        # Send it to everyone in the room. "type" names the handler that each
        # member's consumer runs: "chat.message" calls chat_message() below.
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", "message": message}
        )

    async def chat_message(self, event):
        # Called once in each member's consumer for every group message.
        message = event["message"]

        # Send it down this member's socket.
        await self.send(text_data=json.dumps({"message": message}))
