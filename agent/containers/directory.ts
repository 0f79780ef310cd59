/**
 * The running container registry, for modules that attribute what they see to containers
 * (the network module attributes connections by pid). The containers module publishes its
 * registry here while it runs; a module that needs it and finds none says so and stays off.
 *
 * @module
 */
import type { ContainerView } from "./registry.ts";

/** What other modules may ask the container registry. */
export interface ContainerDirectory {
  /** See `ContainerRegistry.lookupPid`. */
  lookupPid(pid: number, cgroupId?: number): ContainerView | "pending" | "unknown" | undefined;
  /** See `ContainerRegistry.onContainerRemoved`. */
  onContainerRemoved(fn: (c: ContainerView) => void): () => void;
  /** Every container the registry holds. */
  containers(): IterableIterator<ContainerView>;
}

/** Holds the registry of the running containers module, if any. */
export class ContainerDirectoryHub {
  #current: ContainerDirectory | undefined;

  /** The running registry, or undefined when the containers module is not running. */
  get current(): ContainerDirectory | undefined {
    return this.#current;
  }

  /** Called by the containers module when it starts (and with undefined when it stops). */
  publish(d: ContainerDirectory | undefined): void {
    this.#current = d;
  }
}

/** The hub the containers module publishes to. */
export const containerDirectory: ContainerDirectoryHub = new ContainerDirectoryHub();
