/**
 * The node's current cloud metadata, shared between the cloud module (which publishes what the
 * metadata service answered), the node module (`node_cloud_info`) and the registry's scoped
 * labels (`az`/`region` on container series). The overrides are set from the flags at start,
 * whether or not the cloud module runs, so they work on hosts without a metadata service and
 * without the module's net grant.
 *
 * @module
 */
import type { CloudInfo, CloudOverrides } from "./info.ts";
import { applyOverrides, emptyCloudInfo, sameCloudInfo } from "./info.ts";

/** Holds the last good answer of the metadata service and the user's overrides. */
export class CloudMetadataHub {
  #discovered: CloudInfo | undefined;
  #overrides: CloudOverrides = {};
  #current: CloudInfo = emptyCloudInfo();
  #listeners = new Set<() => void>();

  /** The last good answer of the metadata service, undefined until one arrived. */
  get discovered(): CloudInfo | undefined {
    return this.#discovered;
  }

  /** The discovered values with the overrides applied (every label "" when nothing is known). */
  info(): CloudInfo {
    return this.#current;
  }

  /** Sets the overrides (from the flags, at start). */
  setOverrides(o: CloudOverrides): void {
    this.#overrides = { ...o };
    this.#update();
  }

  /** Publishes an answer of the metadata service (undefined forgets the last one). */
  publish(info: CloudInfo | undefined): void {
    this.#discovered = info === undefined ? undefined : { ...info };
    this.#update();
  }

  /** Calls `fn` after every change of {@linkcode info}; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #update(): void {
    const next = applyOverrides(this.#discovered ?? emptyCloudInfo(), this.#overrides);
    if (sameCloudInfo(next, this.#current)) return;
    this.#current = next;
    for (const fn of [...this.#listeners]) fn();
  }
}

/** The agent's hub (one per process, like the container directory). */
export const cloudMetadata: CloudMetadataHub = new CloudMetadataHub();
