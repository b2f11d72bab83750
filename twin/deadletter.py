"""Dead letters: unusable input is published, with the reason, to a dead-letter topic and counted.

Nothing is dropped silently (DESIGN.md §6): an operator can subscribe to
`twin/v1/_sys/deadletter/#` and see every rejected message and why it was rejected.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from twin.mqtt import Message, MqttClient

log = logging.getLogger(__name__)


class DeadLetter:
    """Publishes unusable input, with the reason, to a dead-letter topic."""

    def __init__(self, client: MqttClient, topic: str) -> None:
        self._client = client
        self.topic = topic

    async def send(self, message: Message, reason: str) -> None:
        """Publish {topic, reason, payload, received} and log the reason."""
        log.warning("dead letter from %s: %s", message.topic, reason)
        body = {
            "topic": message.topic,
            "reason": reason,
            "payload": message.payload.decode("utf-8", errors="replace"),
            "received": datetime.now(UTC).isoformat(),
        }
        await self._client.publish(self.topic, json.dumps(body).encode(), qos=1, timeout_s=30)
