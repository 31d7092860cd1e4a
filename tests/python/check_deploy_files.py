"""Structural checks of edge-configs/ (Dockerfile, docker-compose.yml,
kubernetes.yaml) for tests/tests/deploy_files.rs, which runs this with the
repository root as its only argument.

No container engine runs on the test machines, so this parses the files
(PyYAML) and checks what a container engine or Kubernetes would rely on:
stage names, the copied binary, ports, probes, selectors, volume and
ConfigMap names. On success it prints one JSON object with what the Rust
test goes on to run: the Dockerfile's build commands, the command lines the
compose file and the StatefulSet give Tern, and the ConfigMap's nats.conf.
On failure it prints every problem to stderr and exits 1.
"""

import json
import os
import shlex
import sys

import yaml

problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def dockerfile_instructions(text):
    """(INSTRUCTION, argument) pairs, continuation lines joined, comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not cur and (not stripped or stripped.startswith("#")):
            continue
        if cur and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            cur += stripped[:-1].rstrip() + " "
            continue
        cur += stripped
        word, _, rest = cur.partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def exec_form(arg):
    """A JSON array (exec form) or None."""
    try:
        v = json.loads(arg)
    except ValueError:
        return None
    return v if isinstance(v, list) and all(isinstance(x, str) for x in v) else None


def check_dockerfile(root):
    text = open(os.path.join(root, "edge-configs", "Dockerfile")).read()
    stages = []  # [{"from": ..., "name": ..., "ins": [...]}]
    for word, arg in dockerfile_instructions(text):
        if word == "FROM":
            parts = arg.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append({"from": parts[0], "name": name, "ins": []})
        else:
            check(stages, f"Dockerfile: {word} before any FROM")
            if stages:
                stages[-1]["ins"].append((word, arg))
    if not check(len(stages) == 2, f"Dockerfile: expected 2 stages, found {len(stages)}"):
        return {}
    build, run = stages
    ignore = os.path.join(root, "edge-configs", "Dockerfile.dockerignore")
    check(os.path.isfile(ignore) and "target/" in open(ignore).read().split(),
          "Dockerfile: Dockerfile.dockerignore should keep target/ out of the build context")
    check(build["from"].startswith("rust:"), f"Dockerfile: build stage is {build['from']}, not the official rust image")
    check(build["name"] == "build", "Dockerfile: build stage is not named `build`")
    build_runs = [a for w, a in build["ins"] if w == "RUN"]
    check(len(build_runs) == 1, "Dockerfile: build stage should have one RUN")
    check(any(w == "COPY" and a.split() == [".", "."] for w, a in build["ins"]),
          "Dockerfile: build stage does not COPY the workspace")
    check(any(w == "WORKDIR" for w, _ in build["ins"]), "Dockerfile: build stage has no WORKDIR")

    copies = [a.split() for w, a in run["ins"] if w == "COPY"]
    check(len(copies) == 1 and copies[0][0] == "--from=build",
          f"Dockerfile: runtime stage should copy one file from the build stage: {copies}")
    copy_src = copies[0][1] if copies and len(copies[0]) == 3 else None
    binary = copies[0][2] if copies and len(copies[0]) == 3 else None
    expose = sorted(p for w, a in run["ins"] if w == "EXPOSE" for p in a.split())
    check(expose == ["4222", "8222"], f"Dockerfile: EXPOSE {expose}, want 4222 8222")
    health = [a for w, a in run["ins"] if w == "HEALTHCHECK"]
    health_cmd = None
    if check(len(health) == 1, "Dockerfile: no HEALTHCHECK"):
        opts, _, cmd = health[0].partition("CMD ")
        health_cmd = exec_form(cmd)
        check(health_cmd is not None, "Dockerfile: HEALTHCHECK CMD is not in exec form")
        check(health_cmd is not None and "http://127.0.0.1:8222/healthz" in health_cmd,
              f"Dockerfile: HEALTHCHECK does not probe /healthz on 8222: {health_cmd}")
        check(health_cmd is not None and health_cmd[0] == "wget" and run["from"].startswith("busybox:"),
              "Dockerfile: the health check's HTTP client must be in the runtime image (BusyBox wget)")
    entry = [exec_form(a) for w, a in run["ins"] if w == "ENTRYPOINT"]
    cmd = [exec_form(a) for w, a in run["ins"] if w == "CMD"]
    check(entry == [[binary]], f"Dockerfile: ENTRYPOINT {entry} is not the copied binary {binary}")
    check(len(cmd) == 1 and cmd[0] is not None, "Dockerfile: CMD missing or not exec form")
    return {
        "build_run": build_runs[0] if build_runs else "",
        "copy_src": copy_src,
        "binary": binary,
        "cmd_args": cmd[0] if cmd and cmd[0] else [],
        "health_cmd": health_cmd,
    }


def check_compose(root):
    doc = yaml.safe_load(open(os.path.join(root, "edge-configs", "docker-compose.yml")))
    services = doc.get("services") or {}
    check(len(services) == 1, f"compose: expected one service (no cluster routes yet), found {list(services)}")
    out = {}
    for name, svc in services.items():
        build = svc.get("build") or {}
        check(build.get("context") == "..", f"compose {name}: build context is not the repository root")
        check(os.path.isfile(os.path.join(root, "edge-configs", build.get("context", ""), build.get("dockerfile", ""))),
              f"compose {name}: build.dockerfile {build.get('dockerfile')} does not exist")
        check(set(svc.get("ports", [])) == {"4222:4222", "8222:8222"}, f"compose {name}: ports {svc.get('ports')}")
        for net in svc.get("networks", []):
            check(net in (doc.get("networks") or {}), f"compose {name}: network {net} not declared")
        cmd = svc.get("command")
        args = shlex.split(cmd) if isinstance(cmd, str) else list(cmd or [])
        check("-m" in args and args[args.index("-m") + 1:][:1] == ["8222"],
              f"compose {name}: command {args} does not enable monitoring on 8222")
        out[name] = args
    return out


def check_kubernetes(root):
    docs = [d for d in yaml.safe_load_all(open(os.path.join(root, "edge-configs", "kubernetes.yaml"))) if d]
    by_kind = {}
    for d in docs:
        check(d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"),
              f"k8s: document without apiVersion/kind/metadata.name: {d}")
        by_kind.setdefault(d["kind"], []).append(d)
    ns = by_kind.get("Namespace", [{}])[0].get("metadata", {}).get("name")
    for d in docs:
        if d["kind"] != "Namespace":
            check(d["metadata"].get("namespace") == ns, f"k8s: {d['kind']} {d['metadata']['name']} not in namespace {ns}")
    cms = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    sts_list = by_kind.get("StatefulSet", [])
    if not check(len(sts_list) == 1, "k8s: expected one StatefulSet"):
        return {}
    sts = sts_list[0]
    spec = sts["spec"]
    check(spec.get("replicas") == 1, "k8s: replicas must be 1 until cluster routes exist")
    pod = spec["template"]
    labels = pod["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
          "k8s: StatefulSet selector does not match its pod labels")
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    check(spec.get("serviceName") in services, f"k8s: serviceName {spec.get('serviceName')} is no Service")
    containers = pod["spec"]["containers"]
    check(len(containers) == 1, "k8s: expected one container")
    c = containers[0]
    container_ports = {p["containerPort"] for p in c.get("ports", [])}
    check(container_ports == {4222, 8222, 7422, 8080}, f"k8s: container ports {container_ports}")
    for s in services.values():
        check(all(s["spec"]["selector"].get(k) == labels.get(k) for k in s["spec"]["selector"]),
              f"k8s: Service {s['metadata']['name']} selects no pod of the StatefulSet")
        for p in s["spec"]["ports"]:
            check(p.get("targetPort", p["port"]) in container_ports,
                  f"k8s: Service {s['metadata']['name']} port {p} has no container port")
    for probe in ("livenessProbe", "readinessProbe"):
        get = (c.get(probe) or {}).get("httpGet") or {}
        check(get.get("path") == "/healthz" and get.get("port") == 8222,
              f"k8s: {probe} is not GET /healthz on 8222: {get}")
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    for path, name in mounts.items():
        check(name in volumes or name in claims,
              f"k8s: volumeMount {path} names no volume or claim template {name}")
    command = list(c.get("command", [])) + list(c.get("args", []))
    conf_path = None
    for flag in ("-c", "--config"):
        if flag in command:
            conf_path = command[command.index(flag) + 1]
    nats_conf = None
    if check(conf_path, f"k8s: container command {command} names no config file"):
        mount_dir, _, key = conf_path.rpartition("/")
        vol = volumes.get(mounts.get(mount_dir), {})
        cm_name = (vol.get("configMap") or {}).get("name")
        check(cm_name in cms, f"k8s: {conf_path} is not mounted from a ConfigMap of this file")
        nats_conf = (cms.get(cm_name, {}).get("data") or {}).get(key)
        check(nats_conf, f"k8s: ConfigMap {cm_name} has no key {key}")
        check(nats_conf is None or "http: 8222" in nats_conf, "k8s: nats.conf does not serve monitoring on 8222")
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[e["name"]] = f"{sts['metadata']['name']}-0"  # a StatefulSet pod's name
        else:
            problems.append(f"k8s: env {e['name']} has a source this check does not model")
    return {"command": command, "nats_conf": nats_conf, "env": env,
            "pid_dir_mounted": any(p for p in mounts if nats_conf and f'"{p}/' in nats_conf)}


def main():
    root = sys.argv[1]
    result = {
        "dockerfile": check_dockerfile(root),
        "compose": check_compose(root),
        "kubernetes": check_kubernetes(root),
    }
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
