/**
 * Collects the outputs of one `step` and the messages a replica delivers to itself (a replica
 * is one of the members it broadcasts to: its own PROPOSE, WRITE, ACCEPT, STOP, STOPDATA and SYNC
 * count like anyone else's, and are handled after the transition that sent them).
 */
import { toHex } from "../chain/bytes.ts"
import type { ConsensusMessage, ReplicaId, Transaction } from "../chain/types.ts"
import type { ActionName } from "./actions.ts"
import type { ReplicaConfig } from "./config.ts"
import type { Output, TraceEvent } from "./io.ts"

export class Emitter {
  readonly outputs: Array<Output> = []
  /** Messages to handle after the current transition: its own, and buffered ones replayed. */
  readonly inbox: Array<{ readonly from: ReplicaId; readonly message: ConsensusMessage }> = []

  /** `config` is replaced when the replica installs a new view in the middle of a step. */
  constructor(public config: ReplicaConfig) {}

  /** Send to one member; a message to itself is delivered locally. */
  send(to: ReplicaId, message: ConsensusMessage): void {
    if (to === this.config.self) this.inbox.push({ from: to, message })
    else this.outputs.push({ _tag: "Send", to, message })
  }

  /** Send to every member, itself included. */
  broadcast(message: ConsensusMessage): void {
    this.outputs.push({ _tag: "Broadcast", message })
    this.inbox.push({ from: this.config.self, message })
  }

  /** Handle a buffered message from `from` after the current transition. */
  replay(from: ReplicaId, message: ConsensusMessage): void {
    this.inbox.push({ from, message })
  }

  /** Send to every other member only: a retransmission of something already handled locally. */
  rebroadcast(message: ConsensusMessage): void {
    this.outputs.push({ _tag: "Broadcast", message })
  }

  forward(to: ReplicaId, tx: Transaction): void {
    if (to !== this.config.self) this.outputs.push({ _tag: "Forward", to, tx })
  }

  emit(output: Output): void {
    this.outputs.push(output)
  }

  trace(action: ActionName, fields: Record<string, string | number | boolean | ReadonlyArray<number> | ReadonlyArray<string>>): void {
    const event: TraceEvent = { action, replica: this.config.self, ...fields }
    this.outputs.push({ _tag: "Trace", event })
  }
}

/** Trace fields for a hash. */
export const hex = toHex
