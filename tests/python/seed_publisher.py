# The "Python Publisher" from /work/shared/seed/nats-guide.md ("Core NATS
# Examples"), run by tests/tests/python_seed.rs. Changed from the guide only
# where marked "Tern test:": the server URL comes from argv[1].
# Usage: python3 seed_publisher.py nats://127.0.0.1:4222
import asyncio
import sys  # Tern test: server URL from argv
import nats
import json
from datetime import datetime

class NATSPublisher:
    def __init__(self, servers=["nats://localhost:4222"]):
        self.servers = servers
        self.nc = None
        
    async def connect(self):
        """Connect to NATS server"""
        self.nc = await nats.connect(
            servers=self.servers,
            error_cb=self.error_handler,
            disconnected_cb=self.disconnected_handler,
            reconnected_cb=self.reconnected_handler,
            closed_cb=self.closed_handler,
            max_reconnect_attempts=10,
            reconnect_time_wait=2
        )
        print(f"Connected to NATS at {self.nc.connected_url.netloc}")
    
    async def publish_message(self, subject, message, headers=None):
        """Publish a message to a subject"""
        if isinstance(message, dict):
            message = json.dumps(message)
        
        await self.nc.publish(subject, message.encode(), headers=headers)
        print(f"Published to {subject}: {message}")
    
    async def publish_with_reply(self, subject, message, timeout=5.0):
        """Publish message and wait for reply"""
        if isinstance(message, dict):
            message = json.dumps(message)
        
        try:
            response = await self.nc.request(subject, message.encode(), timeout=timeout)
            return response.data.decode()
        except asyncio.TimeoutError:
            print(f"Request to {subject} timed out")
            return None
    
    async def publish_batch(self, messages):
        """Publish multiple messages"""
        for subject, message in messages:
            await self.publish_message(subject, message)
        
        # Flush to ensure all messages are sent
        await self.nc.flush(timeout=1.0)
    
    async def error_handler(self, e):
        print(f"NATS error: {e}")
    
    async def disconnected_handler(self):
        print("Disconnected from NATS")
    
    async def reconnected_handler(self):
        print(f"Reconnected to NATS at {self.nc.connected_url.netloc}")
    
    async def closed_handler(self):
        print("Connection to NATS closed")
    
    async def close(self):
        """Close connection"""
        if self.nc:
            await self.nc.close()

# Usage example
async def main():
    publisher = NATSPublisher(servers=[sys.argv[1]])  # Tern test: server URL from argv
    await publisher.connect()
    
    # Publish simple message
    await publisher.publish_message("user.login", {
        "user_id": 123,
        "timestamp": datetime.now().isoformat(),
        "ip_address": "192.168.1.1"
    })
    
    # Publish with headers
    headers = {"Content-Type": "application/json", "Source": "user-service"}
    await publisher.publish_message("user.logout", {
        "user_id": 123,
        "session_duration": 3600
    }, headers=headers)
    
    # Request/Reply pattern
    response = await publisher.publish_with_reply("math.add", {
        "a": 5,
        "b": 3
    })
    print(f"Math service response: {response}")
    
    # Batch publishing
    messages = [
        ("events.click", {"button": "login", "user": 123}),
        ("events.view", {"page": "/dashboard", "user": 123}),
        ("events.purchase", {"item": "premium", "user": 123})
    ]
    await publisher.publish_batch(messages)
    
    await publisher.close()

# Run the example
asyncio.run(main())
