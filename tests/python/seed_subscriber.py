# The "Python Subscriber" from /work/shared/seed/nats-guide.md ("Core NATS
# Examples"), run by tests/tests/python_seed.rs. Changed from the guide only
# where marked "Tern test:": the server URL comes from argv[1], and
# run_forever() returns once shutdown() has closed the connection, so SIGTERM
# (which the guide's code already handles) ends the process.
# Usage: python3 seed_subscriber.py nats://127.0.0.1:4222
import asyncio
import sys  # Tern test: server URL from argv
import nats
import json
import signal

class NATSSubscriber:
    def __init__(self, servers=["nats://localhost:4222"]):
        self.servers = servers
        self.nc = None
        self.subscriptions = []
        
    async def connect(self):
        """Connect to NATS server"""
        self.nc = await nats.connect(
            servers=self.servers,
            error_cb=self.error_handler,
            disconnected_cb=self.disconnected_handler,
            reconnected_cb=self.reconnected_handler,
            closed_cb=self.closed_handler
        )
        print(f"Connected to NATS at {self.nc.connected_url.netloc}")
    
    async def subscribe(self, subject, handler=None, queue_group=None):
        """Subscribe to a subject"""
        if handler is None:
            handler = self.default_message_handler
        
        subscription = await self.nc.subscribe(
            subject,
            cb=handler,
            queue=queue_group
        )
        
        self.subscriptions.append(subscription)
        print(f"Subscribed to {subject}" + (f" (queue: {queue_group})" if queue_group else ""))
        return subscription
    
    async def subscribe_with_reply(self, subject, handler):
        """Subscribe to requests and send replies"""
        async def reply_handler(msg):
            try:
                response = await handler(msg.data.decode(), msg.subject)
                if response:
                    if isinstance(response, dict):
                        response = json.dumps(response)
                    await msg.respond(response.encode())
            except Exception as e:
                error_response = json.dumps({"error": str(e)})
                await msg.respond(error_response.encode())
        
        subscription = await self.nc.subscribe(subject, cb=reply_handler)
        self.subscriptions.append(subscription)
        print(f"Subscribed to requests on {subject}")
        return subscription
    
    async def default_message_handler(self, msg):
        """Default message handler"""
        try:
            data = json.loads(msg.data.decode())
            print(f"Received on {msg.subject}: {data}")
        except json.JSONDecodeError:
            print(f"Received on {msg.subject}: {msg.data.decode()}")
    
    async def user_login_handler(self, msg):
        """Handle user login events"""
        data = json.loads(msg.data.decode())
        print(f"User {data['user_id']} logged in at {data['timestamp']}")
        
        # Process login logic here
        # e.g., update user session, log analytics, etc.
    
    async def math_service_handler(self, message, subject):
        """Handle math service requests"""
        try:
            data = json.loads(message)
            
            if subject == "math.add":
                result = data["a"] + data["b"]
                return {"result": result}
            elif subject == "math.multiply":
                result = data["a"] * data["b"]
                return {"result": result}
            else:
                return {"error": "Unknown operation"}
        except Exception as e:
            return {"error": str(e)}
    
    async def error_handler(self, e):
        print(f"NATS error: {e}")
    
    async def disconnected_handler(self):
        print("Disconnected from NATS")
    
    async def reconnected_handler(self):
        print(f"Reconnected to NATS at {self.nc.connected_url.netloc}")
    
    async def closed_handler(self):
        print("Connection to NATS closed")
    
    async def run_forever(self):
        """Keep the subscriber running"""
        try:
            # Set up signal handlers for graceful shutdown
            loop = asyncio.get_event_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, lambda: asyncio.create_task(self.shutdown()))
            
            # Keep running until shutdown
            while not (self.nc and self.nc.is_closed):  # Tern test: was `while True:`
                await asyncio.sleep(1)
        except asyncio.CancelledError:
            pass
    
    async def shutdown(self):
        """Graceful shutdown"""
        print("Shutting down subscriber...")
        for subscription in self.subscriptions:
            await subscription.unsubscribe()
        
        if self.nc:
            await self.nc.close()

# Usage example
async def main():
    subscriber = NATSSubscriber(servers=[sys.argv[1]])  # Tern test: server URL from argv
    await subscriber.connect()
    
    # Subscribe to specific subjects
    await subscriber.subscribe("user.login", subscriber.user_login_handler)
    await subscriber.subscribe("user.logout")
    
    # Subscribe with queue groups for load balancing
    await subscriber.subscribe("events.*", queue_group="event-processors")
    
    # Subscribe to request/reply patterns
    await subscriber.subscribe_with_reply("math.*", subscriber.math_service_handler)
    
    # Wildcard subscriptions
    await subscriber.subscribe("monitoring.>")
    
    # Run forever
    await subscriber.run_forever()

# Run the subscriber
asyncio.run(main())
