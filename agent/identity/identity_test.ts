import { deepEqual, equal, match } from "node:assert/strict";
import type { HostPaths } from "../paths.ts";
import { FIXTURES, scratchHost } from "../node/_testing.ts";
import {
  hostRootCandidates,
  identityLabels,
  parseHostnameFile,
  parseMachineId,
  parseProductUuid,
  parseSysctlLine,
  readHostIdentity,
  sharesHostNamespace,
} from "./mod.ts";

Deno.test("parseMachineId accepts 32 hex digits, with or without dashes", () => {
  equal(parseMachineId("3d1219c7c4c5404aaa1f6d2a48adfda4\n"), "3d1219c7c4c5404aaa1f6d2a48adfda4");
  equal(
    parseMachineId("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4\n"),
    "3d1219c7c4c5404aaa1f6d2a48adfda4",
  );
  equal(parseMachineId("uninitialized\n"), undefined);
  equal(parseMachineId(""), undefined);
  equal(parseMachineId("3d1219c7c4c5404a\n"), undefined);
});

Deno.test("parseHostnameFile skips comments and blank lines", () => {
  equal(parseHostnameFile("# set by cloud-init\n\nnode-a\n"), "node-a");
  equal(parseHostnameFile("  web-1.example.com  \n"), "web-1.example.com");
  equal(parseHostnameFile("# only a comment\n"), undefined);
  equal(parseHostnameFile("two words\n"), undefined);
  equal(parseSysctlLine("6.18.44-fc-v769\n"), "6.18.44-fc-v769");
  equal(parseSysctlLine("\n"), undefined);
  equal(
    parseProductUuid(" EC2A1F0E-5B3C-4D7E-9F10-2A3B4C5D6E7F \n"),
    "EC2A1F0E-5B3C-4D7E-9F10-2A3B4C5D6E7F",
  );
});

Deno.test("readHostIdentity on the recorded host (same UTS namespace as PID 1)", async () => {
  const root = `${FIXTURES}/host`;
  const paths: HostPaths = {
    root,
    proc: `${root}/proc`,
    sys: `${root}/sys`,
    cgroup: `${root}/sys/fs/cgroup`,
    fixture: true,
  };
  equal(await sharesHostNamespace(paths, "uts"), true);
  const id = await readHostIdentity(paths);
  deepEqual(
    { ...id, sources: undefined, hostnameSource: undefined },
    {
      machineId: "3d1219c7c4c5404aaa1f6d2a48adfda4",
      systemUuid: "ec2a1f0e-5b3c-4d7e-9f10-2a3b4c5d6e7f",
      hostname: "vm",
      kernelRelease: "6.18.44-fc-v769",
      sources: undefined,
      hostnameSource: undefined,
    },
  );
  equal(id.sources.machineId, `${root}/etc/machine-id`);
  match(id.sources.hostname, /proc\/sys\/kernel\/hostname \(host UTS namespace\)$/);
  deepEqual(id.hostnameSource, { kind: "host-uts", path: `${root}/proc/sys/kernel/hostname` });
  deepEqual(identityLabels(id), {
    machine_id: "3d1219c7c4c5404aaa1f6d2a48adfda4",
    system_uuid: "ec2a1f0e-5b3c-4d7e-9f10-2a3b4c5d6e7f",
  });
});

Deno.test("readHostIdentity in a container of its own UTS namespace takes the host's /etc/hostname", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.remove(`${dir}/proc/self/ns/uts`);
    await Deno.symlink("uts:[4026532999]", `${dir}/proc/self/ns/uts`);
    await Deno.writeTextFile(`${dir}/proc/sys/kernel/hostname`, "osprey-agent-7d9f\n");
    await Deno.writeTextFile(`${dir}/etc/hostname`, "# static\nnode-a\n");
  });
  try {
    equal(await sharesHostNamespace(host, "uts"), false);
    const id = await readHostIdentity(host);
    equal(id.hostname, "node-a");
    equal(id.sources.hostname, `${host.root}/etc/hostname`);
  } finally {
    await host.cleanup();
  }
});

Deno.test("readHostIdentity falls back to the agent's own hostname, and says so", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.remove(`${dir}/proc/1/ns`, { recursive: true }); // PID 1 not readable
    await Deno.remove(`${dir}/etc/hostname`);
  });
  try {
    equal(await sharesHostNamespace(host, "uts"), undefined);
    const id = await readHostIdentity(host);
    equal(id.hostname, "vm");
    match(id.sources.hostname, /the agent's UTS namespace, maybe not the host's/);
  } finally {
    await host.cleanup();
  }
});

Deno.test("machine_id falls back to D-Bus's copy, then to the DMI product UUID without dashes", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.writeTextFile(`${dir}/etc/machine-id`, "uninitialized\n");
    await Deno.mkdir(`${dir}/var/lib/dbus`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/var/lib/dbus/machine-id`,
      "0123456789abcdef0123456789abcdef\n",
    );
  });
  try {
    let id = await readHostIdentity(host);
    equal(id.machineId, "0123456789abcdef0123456789abcdef");
    equal(id.sources.machineId, `${host.root}/var/lib/dbus/machine-id`);
    await Deno.remove(`${host.root}/var/lib/dbus/machine-id`);
    await Deno.remove(`${host.root}/etc/machine-id`);
    id = await readHostIdentity(host);
    equal(id.machineId, "ec2a1f0e5b3c4d7e9f102a3b4c5d6e7f");
    equal(id.systemUuid, "ec2a1f0e-5b3c-4d7e-9f10-2a3b4c5d6e7f");
    await Deno.remove(`${host.root}/sys/class/dmi/id/product_uuid`);
    id = await readHostIdentity(host);
    deepEqual([id.machineId, id.systemUuid, id.sources.machineId], ["", "", "none"]);
  } finally {
    await host.cleanup();
  }
});

Deno.test("with root '/' in another mount namespace than PID 1, host files come from <proc>/1/root", async () => {
  const host = await scratchHost(async (dir) => {
    await Deno.remove(`${dir}/proc/self/ns/mnt`);
    await Deno.symlink("mnt:[4026532777]", `${dir}/proc/self/ns/mnt`);
    await Deno.mkdir(`${dir}/proc/1/root/etc`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/proc/1/root/etc/machine-id`,
      "fedcba9876543210fedcba9876543210\n",
    );
  });
  try {
    const paths: HostPaths = { ...host, root: "/" };
    deepEqual(await hostRootCandidates(paths), [`${host.proc}/1/root`, "/"]);
    const id = await readHostIdentity(paths);
    equal(id.machineId, "fedcba9876543210fedcba9876543210");
    equal(id.sources.machineId, `${host.proc}/1/root/etc/machine-id`);
  } finally {
    await host.cleanup();
  }
});
