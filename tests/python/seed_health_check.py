# The seed guide's health checker (../shared/seed/nats-guide.md, "Health
# Monitoring"), as written there except where marked `# Tern test:`.
#
#   python3 tests/python/seed_health_check.py http://127.0.0.1:8222
#
# Run by tests/tests/python_health.rs against Tern and nats-server.
import asyncio
import sys  # Tern test: the monitoring URL comes from argv
import aiohttp
import json
from datetime import datetime

class NATSHealthChecker:
    def __init__(self, monitoring_url="http://localhost:8222"):
        self.monitoring_url = monitoring_url
        
    async def check_server_health(self):
        """Check NATS server health"""
        async with aiohttp.ClientSession() as session:
            try:
                # General info
                async with session.get(f"{self.monitoring_url}/varz") as resp:
                    varz = await resp.json()
                
                # Connection info
                async with session.get(f"{self.monitoring_url}/connz") as resp:
                    connz = await resp.json()
                
                # JetStream info
                try:
                    async with session.get(f"{self.monitoring_url}/jsz") as resp:
                        jsz = await resp.json()
                except:
                    jsz = None
                
                health_status = {
                    "timestamp": datetime.now().isoformat(),
                    "server": {
                        "version": varz.get("version"),
                        "uptime": varz.get("uptime"),
                        "connections": varz.get("connections"),
                        "in_msgs": varz.get("in_msgs"),
                        "out_msgs": varz.get("out_msgs"),
                        "in_bytes": varz.get("in_bytes"),
                        "out_bytes": varz.get("out_bytes"),
                        "mem": varz.get("mem"),
                        "cpu": varz.get("cpu")
                    },
                    "connections": {
                        "total": connz.get("total"),
                        "offset": connz.get("offset"),
                        "limit": connz.get("limit")
                    }
                }
                
                if jsz:
                    health_status["jetstream"] = {
                        "memory": jsz.get("memory"),
                        "storage": jsz.get("storage"),
                        # Tern test: /jsz "accounts" is a count (nats-server
                        # 2.x), not a list: len() raised, and the seed program
                        # reported every server unhealthy.
                        "accounts": jsz.get("accounts"),
                        "ha_assets": jsz.get("ha_assets")
                    }
                
                return health_status
                
            except Exception as e:
                return {"error": str(e), "timestamp": datetime.now().isoformat()}
    
    async def check_jetstream_streams(self):
        """Check JetStream stream health"""
        async with aiohttp.ClientSession() as session:
            try:
                # Tern test: per-account (and so per-stream) details need
                # accounts=1 too; they come in "account_details", each
                # account's streams in "stream_detail" ("accounts" and
                # "streams" are counts).
                async with session.get(f"{self.monitoring_url}/jsz?accounts=1&streams=1") as resp:
                    data = await resp.json()
                
                streams_health = []
                for account in data.get("account_details", []):  # Tern test: see above
                    for stream in account.get("stream_detail", []):  # Tern test: see above
                        stream_health = {
                            "name": stream.get("name"),
                            "subjects": stream.get("config", {}).get("subjects", []),
                            "messages": stream.get("state", {}).get("messages", 0),
                            "bytes": stream.get("state", {}).get("bytes", 0),
                            "first_seq": stream.get("state", {}).get("first_seq", 0),
                            "last_seq": stream.get("state", {}).get("last_seq", 0)
                        }
                        streams_health.append(stream_health)
                
                return streams_health
                
            except Exception as e:
                return {"error": str(e)}
    
    async def generate_health_report(self):
        """Generate comprehensive health report"""
        server_health = await self.check_server_health()
        streams_health = await self.check_jetstream_streams()
        
        report = {
            "timestamp": datetime.now().isoformat(),
            "server": server_health,
            "streams": streams_health,
            "summary": {
                "healthy": "error" not in server_health,
                "total_connections": server_health.get("server", {}).get("connections", 0),
                "total_streams": len(streams_health) if isinstance(streams_health, list) else 0
            }
        }
        
        return report

# Usage
async def main():
    # Tern test: the monitoring URL is the first argument (the seed used the
    # default, http://localhost:8222).
    health_checker = NATSHealthChecker(*sys.argv[1:2])
    
    # Check server health
    health = await health_checker.check_server_health()
    print("Server Health:")
    print(json.dumps(health, indent=2))
    
    # Check streams
    streams = await health_checker.check_jetstream_streams()
    print("\nStreams Health:")
    print(json.dumps(streams, indent=2))
    
    # Generate full report
    report = await health_checker.generate_health_report()
    print("\nFull Health Report:")
    print(json.dumps(report, indent=2))

# Run health check
asyncio.run(main())
