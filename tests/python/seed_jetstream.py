# The seed guide's JetStream program (../shared/seed/nats-guide.md), unchanged except
# where marked "Tern test:": the server URL comes from argv[1].
# Usage: python3 seed_jetstream.py nats://127.0.0.1:4222
import asyncio
import sys  # Tern test: server URL from argv
import nats
from nats.js import JetStreamContext
import json
from datetime import datetime, timedelta

class JetStreamManager:
    def __init__(self, servers=["nats://localhost:4222"]):
        self.servers = servers
        self.nc = None
        self.js = None
        
    async def connect(self):
        """Connect to NATS and create JetStream context"""
        self.nc = await nats.connect(servers=self.servers)
        self.js = self.nc.jetstream()
        print("Connected to NATS JetStream")
    
    async def create_stream(self, name, subjects, retention_policy="limits", 
                           max_age=None, max_bytes=None, max_msgs=None):
        """Create a JetStream stream"""
        config = {
            "name": name,
            "subjects": subjects,
            "retention": retention_policy,
        }
        
        if max_age:
            config["max_age"] = max_age
        if max_bytes:
            config["max_bytes"] = max_bytes
        if max_msgs:
            config["max_msgs"] = max_msgs
        
        try:
            stream = await self.js.add_stream(**config)
            print(f"Created stream: {name}")
            return stream
        except Exception as e:
            if "already exists" in str(e):
                print(f"Stream {name} already exists")
                return await self.js.stream_info(name)
            raise
    
    async def create_consumer(self, stream_name, consumer_name, 
                             filter_subject=None, deliver_policy="all",
                             ack_policy="explicit", max_deliver=5):
        """Create a JetStream consumer"""
        config = {
            "stream_name": stream_name,
            "config": {
                "durable_name": consumer_name,
                "deliver_policy": deliver_policy,
                "ack_policy": ack_policy,
                "max_deliver": max_deliver,
                "replay_policy": "instant"
            }
        }
        
        if filter_subject:
            config["config"]["filter_subject"] = filter_subject
        
        try:
            consumer = await self.js.add_consumer(**config)
            print(f"Created consumer: {consumer_name}")
            return consumer
        except Exception as e:
            if "already exists" in str(e):
                print(f"Consumer {consumer_name} already exists")
                return await self.js.consumer_info(stream_name, consumer_name)
            raise
    
    async def publish_to_stream(self, subject, message, headers=None):
        """Publish message to JetStream"""
        if isinstance(message, dict):
            message = json.dumps(message)
        
        ack = await self.js.publish(subject, message.encode(), headers=headers)
        print(f"Published to {subject}, sequence: {ack.seq}")
        return ack
    
    async def consume_messages(self, stream_name, consumer_name, batch_size=10):
        """Consume messages from stream"""
        subscription = await self.js.pull_subscribe(
            subject="",
            durable=consumer_name,
            stream=stream_name
        )
        
        while True:
            try:
                messages = await subscription.fetch(batch_size, timeout=5.0)
                
                for msg in messages:
                    try:
                        data = json.loads(msg.data.decode())
                        print(f"Processing: {data}")
                        
                        # Process message here
                        await self.process_message(data, msg.subject)
                        
                        # Acknowledge message
                        await msg.ack()
                        
                    except Exception as e:
                        print(f"Error processing message: {e}")
                        # Negative acknowledge to retry
                        await msg.nak()
                        
            except asyncio.TimeoutError:
                print("No messages received, continuing...")
            except Exception as e:
                print(f"Error fetching messages: {e}")
                await asyncio.sleep(1)
    
    async def process_message(self, data, subject):
        """Process individual message"""
        # Implement your message processing logic here
        print(f"Processing message from {subject}: {data}")
        
        # Simulate processing time
        await asyncio.sleep(0.1)
    
    async def stream_info(self, stream_name):
        """Get stream information"""
        info = await self.js.stream_info(stream_name)
        print(f"Stream: {info.config.name}")
        print(f"Messages: {info.state.messages}")
        print(f"Bytes: {info.state.bytes}")
        print(f"Subjects: {info.config.subjects}")
        return info
    
    async def consumer_info(self, stream_name, consumer_name):
        """Get consumer information"""
        info = await self.js.consumer_info(stream_name, consumer_name)
        print(f"Consumer: {info.name}")
        print(f"Delivered: {info.delivered.consumer_seq}")
        print(f"Pending: {info.num_pending}")
        return info
    
    async def close(self):
        """Close connection"""
        if self.nc:
            await self.nc.close()

# Usage example
async def main():
    js_manager = JetStreamManager(servers=[sys.argv[1]])  # Tern test: server URL from argv
    await js_manager.connect()
    
    # Create streams
    await js_manager.create_stream(
        name="ORDERS",
        subjects=["orders.*"],
        retention_policy="limits",
        max_age=24 * 3600 * 1000000000,  # 24 hours in nanoseconds
        max_msgs=1000000
    )
    
    await js_manager.create_stream(
        name="EVENTS",
        subjects=["events.*"],
        retention_policy="interest",
        max_age=7 * 24 * 3600 * 1000000000  # 7 days
    )
    
    # Create consumers
    await js_manager.create_consumer(
        stream_name="ORDERS",
        consumer_name="order-processor",
        filter_subject="orders.new",
        deliver_policy="new"
    )
    
    await js_manager.create_consumer(
        stream_name="EVENTS",
        consumer_name="analytics",
        deliver_policy="all"
    )
    
    # Publish some messages
    for i in range(10):
        await js_manager.publish_to_stream("orders.new", {
            "order_id": f"order-{i}",
            "customer_id": f"customer-{i % 3}",
            "amount": 100.00 + i,
            "timestamp": datetime.now().isoformat()
        })
    
    # Check stream info
    await js_manager.stream_info("ORDERS")
    
    # Start consuming (this would run forever)
    # await js_manager.consume_messages("ORDERS", "order-processor")
    
    await js_manager.close()

# Run the example
asyncio.run(main())
