/**
 * The host's identity: machine_id and system_uuid (const labels of every series), hostname and
 * kernel release (node_info), read from the host's files even when the agent runs in a
 * container. See `identity.ts` for the sources and their limits.
 *
 * @module
 */
export {
  hostRootCandidates,
  identityLabels,
  parseHostnameFile,
  parseMachineId,
  parseProductUuid,
  parseSysctlLine,
  readHostIdentity,
  readHostname,
  resolveHostnameSource,
} from "./identity.ts";
export type { HostIdentity, HostnameSource, IdentityLabels } from "./identity.ts";
export { namespaceOf, sharesHostNamespace } from "./namespaces.ts";
export type { NamespaceKind } from "./namespaces.ts";
