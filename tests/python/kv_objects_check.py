"""KV and object store through nats-py, as a Python program would use them.

Prints one line per observation so the Rust test (tests/tests/py_clients.rs)
can compare Tern with nats-server.

    python3 tests/python/kv_objects_check.py nats://127.0.0.1:4222
"""

import asyncio
import sys

import nats
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError, ObjectNotFoundError


async def kv_part(js):
    kv = await js.create_key_value(bucket="settings", history=5)
    watcher = await kv.watchall()
    print(f"put r{await kv.put('site.name', b'edge-1')}")
    print(f"put r{await kv.put('site.zone', b'north')}")
    entry = await kv.get("site.name")
    print(f"get {entry.value.decode()} r{entry.revision}")
    try:
        await kv.get("nope")
        print("missing key found")
    except NotFoundError:
        print("missing key not found")
    print(f"update r{await kv.update('site.name', b'edge-2', last=1)}")
    try:
        await kv.update("site.name", b"edge-3", last=1)
        print("stale update accepted")
    except KeyWrongLastSequenceError:
        print("stale update refused")
    history = await kv.history("site.name")
    print("history " + ",".join(e.value.decode() for e in history))
    print("keys " + ",".join(sorted(await kv.keys())))
    await kv.delete("site.zone")
    await kv.purge("site.name")
    seen = []
    while len(seen) < 5:
        e = await watcher.updates(timeout=5)
        if e is None:  # end of the initial values
            continue
        seen.append(f"{e.operation or 'PUT'} {e.key} r{e.revision}")
    print("watch " + "; ".join(seen))
    await watcher.stop()
    try:
        await kv.get("site.zone")
        print("deleted key found")
    except NotFoundError:
        print("deleted key not found")


async def object_part(js):
    obs = await js.create_object_store(bucket="files")
    big = bytes(i % 251 for i in range(300_000))
    info = await obs.put("firmware.bin", big)
    print(f"object {info.name} size={info.size} chunks={info.chunks}")
    await obs.put("notes.txt", b"hello from python")
    back = await obs.get("firmware.bin")
    print(f"object read back {back.data == big}")
    names = sorted(o.name for o in await obs.list())
    print("objects " + ",".join(names))
    await obs.delete("notes.txt")
    try:
        await obs.get("notes.txt")
        print("deleted object readable")
    except ObjectNotFoundError:
        print("deleted object not found")
    listed = sorted((o.name, bool(o.deleted)) for o in await obs.list())
    print("objects after delete " + ",".join(f"{n}{' (deleted)' if d else ''}" for n, d in listed))


async def main(url):
    nc = await nats.connect(url)
    js = nc.jetstream()
    await kv_part(js)
    await object_part(js)
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
