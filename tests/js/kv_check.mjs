// KV and object store through nats.js (the `nats` package), as a Node.js
// program would use them. Prints one line per observation so the Rust test
// (tests/tests/js_clients.rs) can compare Tern with nats-server.
//
//   node tests/js/kv_check.mjs nats://127.0.0.1:4222
import { connect, StringCodec } from "nats";

const sc = StringCodec();
const out = (line) => console.log(line);

const nc = await connect({ servers: process.argv[2] });
const js = nc.jetstream();

const kv = await js.views.kv("config", { history: 5 });
const watched = [];
const watch = await kv.watch();
const watching = (async () => {
  for await (const e of watch) {
    watched.push(`${e.operation} ${e.key} r${e.revision}`);
    if (watched.length === 5) break;
  }
})();

out(`put r${await kv.put("site.name", sc.encode("edge-1"))}`);
out(`put r${await kv.put("site.zone", sc.encode("north"))}`);
const e = await kv.get("site.name");
out(`get ${sc.decode(e.value)} r${e.revision}`);
out(`missing ${(await kv.get("nope")) === null}`);
out(`update r${await kv.update("site.name", sc.encode("edge-2"), 1)}`);
try {
  await kv.update("site.name", sc.encode("stale"), 1);
  out("stale update accepted");
} catch (err) {
  out("stale update refused");
}
try {
  await kv.create("site.zone", sc.encode("x"));
  out("create over existing accepted");
} catch (err) {
  out("create over existing refused");
}
const keys = [];
for await (const k of await kv.keys()) keys.push(k);
out(`keys ${keys.sort().join(",")}`);
await kv.delete("site.zone");
const gone = await kv.get("site.zone");
out(`deleted ${gone === null || gone.operation}`);
const history = [];
for await (const h of await kv.history({ key: "site.name" })) history.push(sc.decode(h.value));
out(`history ${history.join(",")}`);
await kv.purge("site.name");
await watching;
out(`watch ${watched.join("; ")}`);
const status = await kv.status();
out(`status ${status.bucket} history=${status.history} values=${status.values}`);

const os = await js.views.os("files");
const big = new Uint8Array(300000).map((_, i) => i % 251);
const info = await os.putBlob({ name: "firmware.bin" }, big);
out(`object ${info.name} size=${info.size} chunks=${info.chunks}`);
await os.putBlob({ name: "notes.txt" }, sc.encode("hello"));
const back = await os.getBlob("firmware.bin");
out(`object read back ${back.length === big.length && back.every((b, i) => b === big[i])}`);
const names = (await os.list()).map((o) => o.name).sort();
out(`objects ${names.join(",")}`);
await os.delete("notes.txt");
out(`deleted object readable ${(await os.getBlob("notes.txt")) !== null}`);

await nc.drain();
