/**
 * Fan-out of decoded process events to the modules that follow processes (the container
 * registry counts restarts and OOM kills from them). Listeners run synchronously on the
 * drain loop and receive a reused object: copy what you keep.
 *
 * @module
 */
import type { ProcEvent } from "../../ffi/mod.ts";

/** Receives each event; the object is reused for the next one. */
export type ProcessEventListener = (event: Readonly<ProcEvent>) => void;

/** A list of listeners; a listener that throws is counted and does not stop the others. */
export class ProcessEventHub {
  #listeners = new Set<ProcessEventListener>();
  /** Exceptions thrown by listeners. */
  listenerErrors = 0;

  /** Adds a listener; returns a function that removes it. */
  subscribe(fn: ProcessEventListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Delivers one event to every listener. */
  emit(event: Readonly<ProcEvent>): void {
    for (const fn of this.#listeners) {
      try {
        fn(event);
      } catch {
        this.listenerErrors++;
      }
    }
  }
}

/** The hub the process_events module publishes to. */
export const processEventHub: ProcessEventHub = new ProcessEventHub();
