// nats.ws (the browser client) over ws:// from Node: subscribe, publish,
// request/reply, headers, a large message, drain. Prints one line per
// check; tests/tests/websocket_clients.rs compares the output for Tern and
// nats-server. Usage: node ws_check.mjs ws://127.0.0.1:PORT
import WebSocket from "ws";
// Node 20 has no global WebSocket; nats.ws expects the browser's.
globalThis.WebSocket = WebSocket;
const { connect, StringCodec, headers } = await import("nats.ws");

const url = process.argv[2];
const sc = StringCodec();
const nc = await connect({ servers: url, timeout: 5000 });
console.log(`connected ${nc.info.headers ? "headers" : "no-headers"} max_payload=${nc.info.max_payload}`);

const sub = nc.subscribe("greet.*", { max: 3 });
const got = (async () => {
  const seen = [];
  for await (const m of sub) {
    seen.push(`${m.subject}:${sc.decode(m.data)}`);
  }
  return seen;
})();
for (const who of ["ann", "bob", "cid"]) {
  nc.publish(`greet.${who}`, sc.encode(`hello ${who}`));
}
console.log(`received ${(await got).join(",")}`);

nc.subscribe("svc.upper", {
  callback: (err, m) => {
    if (!err) {
      const h = headers();
      h.set("X-Served-By", "ws");
      m.respond(sc.encode(sc.decode(m.data).toUpperCase()), { headers: h });
    }
  },
});
const reply = await nc.request("svc.upper", sc.encode("shout"), { timeout: 5000 });
console.log(`reply ${sc.decode(reply.data)} header=${reply.headers?.get("X-Served-By")}`);

const big = new Uint8Array(512 * 1024).map((_, i) => i % 251);
const bigSub = nc.subscribe("big", { max: 1 });
nc.publish("big", big);
for await (const m of bigSub) {
  const same = m.data.length === big.length && m.data.every((b, i) => b === big[i]);
  console.log(`big ${m.data.length} same=${same}`);
}

try {
  await nc.request("nobody.home", sc.encode("?"), { timeout: 2000 });
  console.log("no-responders missing");
} catch (e) {
  console.log(`no responders ${e.code}`);
}

await nc.drain();
console.log("drained");
