"""Consumers handle WebSocket events, the way views handle HTTP requests."""

import json

from channels.generic.websocket import WebsocketConsumer


class ChatConsumer(WebsocketConsumer):
    def connect(self):
        # Called when the browser opens the socket: accept it.
        self.accept()

    def disconnect(self, close_code):
        # Called when the socket closes. Nothing to clean up yet.
        pass

    def receive(self, text_data):
        # Called for every frame the browser sends: {"message": "..."}.
        text_data_json = json.loads(text_data)
        message = text_data_json["message"]

        # Echo it back to the same socket, and only to it.
        self.send(text_data=json.dumps({"message": message}))
