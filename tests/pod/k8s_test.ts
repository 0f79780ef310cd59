/**
 * k8s/: every file parses as YAML (python3's yaml module: Deno has no YAML parser among this
 * repository's dependencies) and the DaemonSet keeps its least-privilege shape and agrees with
 * the Containerfile (port, granted paths, image tag). No cluster is needed.
 */
import { deepEqual, equal, ok } from "node:assert/strict";

const REPO = new URL("../../", import.meta.url).pathname;
const K8S = `${REPO}k8s`;

// deno-lint-ignore no-explicit-any
type Doc = any;

function yamlIgnoreReason(): string {
  try {
    const r = new Deno.Command("python3", { args: ["-c", "import yaml"], stderr: "null" })
      .outputSync();
    return r.success ? "" : "python3's yaml module is missing (apt-get install python3-yaml)";
  } catch {
    return "python3 is missing";
  }
}
const ignoreReason = yamlIgnoreReason();

/** file name → its YAML documents. */
function load(): Map<string, Doc[]> {
  const names = [...Deno.readDirSync(K8S)].map((e) => e.name).filter((n) => n.endsWith(".yaml"))
    .sort();
  const r = new Deno.Command("python3", {
    args: [
      "-c",
      "import json, sys, yaml\n" +
      "print(json.dumps([list(yaml.safe_load_all(open(f))) for f in sys.argv[1:]]))",
      ...names.map((n) => `${K8S}/${n}`),
    ],
  }).outputSync();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  const docs = JSON.parse(new TextDecoder().decode(r.stdout)) as Doc[][];
  return new Map(names.map((n, i) => [n, docs[i]]));
}

/** The paths the image's ENTRYPOINT lets the agent read. */
function grantedReads(): string[] {
  const text = Deno.readTextFileSync(`${REPO}Containerfile`);
  const m = /"--allow-read=([^"]+)"/.exec(text);
  ok(m, "no --allow-read in the Containerfile");
  return m[1].split(",");
}

function exposedPort(): number {
  const m = /^EXPOSE\s+(\d+)/m.exec(Deno.readTextFileSync(`${REPO}Containerfile`));
  ok(m, "no EXPOSE in the Containerfile");
  return Number(m[1]);
}

Deno.test({
  name: "k8s/ parses, kustomization lists every manifest, one namespace throughout",
  ignore: ignoreReason !== "",
  fn() {
    const files = load();
    const kustomization = files.get("kustomization.yaml")![0];
    const resources = [...files.keys()].filter((n) => n !== "kustomization.yaml");
    deepEqual([...kustomization.resources].sort(), resources);
    const kinds = resources.flatMap((n) => files.get(n)!.map((d) => d.kind)).sort();
    deepEqual(kinds, ["DaemonSet", "Namespace", "Service", "ServiceAccount"]);
    for (const n of resources) {
      for (const d of files.get(n)!) {
        if (d.kind !== "Namespace") equal(d.metadata.namespace, "osprey", `${n}: ${d.kind}`);
      }
    }
  },
});

Deno.test({
  name: "the DaemonSet: hostPID, read-only host mounts the image grants, 7 capabilities, probes",
  ignore: ignoreReason !== "",
  fn() {
    const files = load();
    const ds = files.get("daemon_set.yaml")![0];
    const pod = ds.spec.template.spec;
    equal(pod.hostPID, true);
    ok(!pod.hostNetwork, "no host network: the agent reads the host's through /host/proc/1/net");
    ok(
      pod.tolerations.some((t: Doc) => t.operator === "Exists" && !t.key),
      "tolerates every taint",
    );
    equal(pod.containers.length, 1);
    const c = pod.containers[0];

    const sc = c.securityContext;
    ok(!sc.privileged, "not privileged");
    equal(sc.readOnlyRootFilesystem, true);
    equal(sc.allowPrivilegeEscalation, false);
    deepEqual(sc.capabilities.drop, ["ALL"]);
    deepEqual([...sc.capabilities.add].sort(), [
      "BPF",
      "NET_ADMIN",
      "NET_RAW",
      "PERFMON",
      "SYS_ADMIN",
      "SYS_PTRACE",
      "SYS_RESOURCE",
    ]);

    const granted = grantedReads();
    const volumes = new Map(pod.volumes.map((v: Doc) => [v.name, v]));
    for (const m of c.volumeMounts) {
      if (m.mountPath === "/tmp") {
        // the one writable mount: push mode's spool and DENO_DIR, in the pod's own emptyDir
        ok((volumes.get(m.name) as Doc)?.emptyDir, "/tmp is an emptyDir, not a host path");
        ok(m.readOnly !== true, "/tmp is writable");
        continue;
      }
      equal(m.readOnly, true, `${m.mountPath} is read-only`);
      ok((volumes.get(m.name) as Doc)?.hostPath, `${m.mountPath} is a host path`);
      ok(
        granted.some((g) => m.mountPath === g || m.mountPath.startsWith(`${g}/`)),
        `${m.mountPath} is mounted but the image does not grant reading it`,
      );
    }
    const mounted = new Map(c.volumeMounts.map((m: Doc) => [m.mountPath, volumes.get(m.name)]));
    for (const [where, from] of [["/host/proc", "/proc"], ["/host/sys", "/sys"]]) {
      equal((mounted.get(where) as Doc)?.hostPath.path, from, `${where} is the host's ${from}`);
    }

    const port = exposedPort();
    deepEqual(c.ports.map((p: Doc) => [p.name, p.containerPort]), [["metrics", port]]);
    equal(c.livenessProbe.httpGet.path, "/healthz");
    equal(c.readinessProbe.httpGet.path, "/readyz");
    ok(c.resources.limits.memory, "a memory limit");
    ok(c.resources.requests.memory && c.resources.requests.cpu, "requests");

    const version = JSON.parse(Deno.readTextFileSync(`${REPO}deno.json`)).version;
    equal(c.image, `localhost/osprey:${version}`);
    equal(files.get("kustomization.yaml")![0].images[0].newTag, version);

    const svc = files.get("service.yaml")![0];
    equal(svc.spec.clusterIP, "None");
    deepEqual(svc.spec.selector, ds.spec.selector.matchLabels);
    deepEqual(svc.spec.ports.map((p: Doc) => [p.port, p.targetPort]), [[port, "metrics"]]);
  },
});
