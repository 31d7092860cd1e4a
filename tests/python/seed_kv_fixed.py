# The seed guide's Key-Value program (../shared/seed/nats-guide.md) with its misuses of
# nats-py fixed, each marked "Tern test: fixed"; the server URL comes from argv[1].
# Usage: python3 seed_kv_fixed.py nats://127.0.0.1:4222
import asyncio
import sys  # Tern test: server URL from argv
import nats
from nats.js import JetStreamContext
import json

class NATSKeyValueStore:
    def __init__(self, servers=["nats://localhost:4222"]):
        self.servers = servers
        self.nc = None
        self.js = None
        self.buckets = {}
        
    async def connect(self):
        """Connect to NATS and create JetStream context"""
        self.nc = await nats.connect(servers=self.servers)
        self.js = self.nc.jetstream()
        print("Connected to NATS Key-Value store")
    
    async def create_bucket(self, bucket_name, max_age=None, max_bytes=None):
        """Create a Key-Value bucket"""
        config = {"bucket": bucket_name}
        
        if max_age:
            config["ttl"] = max_age  # Tern test: fixed: the KV option is ttl
        if max_bytes:
            config["max_bytes"] = max_bytes
        
        try:
            bucket = await self.js.create_key_value(**config)
            self.buckets[bucket_name] = bucket
            print(f"Created KV bucket: {bucket_name}")
            return bucket
        except Exception as e:
            if "already exists" in str(e):
                bucket = await self.js.key_value(bucket_name)
                self.buckets[bucket_name] = bucket
                print(f"Using existing KV bucket: {bucket_name}")
                return bucket
            raise
    
    async def put(self, bucket_name, key, value):
        """Put a value in the key-value store"""
        if bucket_name not in self.buckets:
            await self.create_bucket(bucket_name)
        
        bucket = self.buckets[bucket_name]
        
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        
        revision = await bucket.put(key, value.encode())
        print(f"Put {key} in {bucket_name}, revision: {revision}")
        return revision
    
    async def get(self, bucket_name, key):
        """Get a value from the key-value store"""
        if bucket_name not in self.buckets:
            bucket = await self.js.key_value(bucket_name)
            self.buckets[bucket_name] = bucket
        
        bucket = self.buckets[bucket_name]
        
        try:
            entry = await bucket.get(key)
            value = entry.value.decode()
            
            # Try to parse as JSON
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        except Exception as e:
            if "not found" in str(e):
                return None
            raise
    
    async def delete(self, bucket_name, key):
        """Delete a key from the store"""
        if bucket_name not in self.buckets:
            bucket = await self.js.key_value(bucket_name)
            self.buckets[bucket_name] = bucket
        
        bucket = self.buckets[bucket_name]
        await bucket.delete(key)
        print(f"Deleted {key} from {bucket_name}")
    
    async def list_keys(self, bucket_name):
        """List all keys in a bucket"""
        if bucket_name not in self.buckets:
            bucket = await self.js.key_value(bucket_name)
            self.buckets[bucket_name] = bucket
        
        bucket = self.buckets[bucket_name]
        keys = []
        
        for key in await bucket.keys():  # Tern test: fixed: keys() returns a list
            keys.append(key)
        
        return keys
    
    async def watch(self, bucket_name, key_pattern="*"):
        """Watch for changes in the key-value store"""
        if bucket_name not in self.buckets:
            bucket = await self.js.key_value(bucket_name)
            self.buckets[bucket_name] = bucket
        
        bucket = self.buckets[bucket_name]
        
        async for entry in bucket.watch(key_pattern):
            if entry.value:
                try:
                    value = json.loads(entry.value.decode())
                except json.JSONDecodeError:
                    value = entry.value.decode()
                
                print(f"Key {entry.key} changed: {value} (revision: {entry.revision})")
            else:
                print(f"Key {entry.key} deleted (revision: {entry.revision})")
    
    async def close(self):
        """Close connection"""
        if self.nc:
            await self.nc.close()

# Usage example
async def main():
    kv_store = NATSKeyValueStore(servers=[sys.argv[1]])  # Tern test: server URL from argv
    await kv_store.connect()
    
    # Create buckets
    await kv_store.create_bucket("user-sessions", max_age=3600)  # 1 hour TTL
    await kv_store.create_bucket("config", max_bytes=10*1024*1024)  # 10MB max
    
    # Store user session data
    session_data = {
        "user_id": 123,
        "login_time": "2023-01-01T12:00:00Z",
        "ip_address": "192.168.1.1",
        "permissions": ["read", "write"]
    }
    
    await kv_store.put("user-sessions", "session-abc123", session_data)
    
    # Store configuration
    config = {
        "database_url": "postgresql://localhost:5432/mydb",
        "redis_url": "redis://localhost:6379",
        "log_level": "INFO"
    }
    
    await kv_store.put("config", "app-config", config)
    
    # Retrieve data
    session = await kv_store.get("user-sessions", "session-abc123")
    print(f"Retrieved session: {session}")
    
    app_config = await kv_store.get("config", "app-config")
    print(f"Retrieved config: {app_config}")
    
    # List all keys
    session_keys = await kv_store.list_keys("user-sessions")
    print(f"Session keys: {session_keys}")
    
    # Update configuration
    await kv_store.put("config", "app-config", {
        **config,
        "log_level": "DEBUG"
    })
    
    # Watch for changes (this would run forever)
    # await kv_store.watch("config")
    
    await kv_store.close()

# Run the example
asyncio.run(main())
