/**
 * The names of the spec's actions. Each is the TLA+ operator name verbatim, the trace event name
 * the implementation emits when it performs that action, and (for the protocol actions) the name
 * of the source file that implements it. spec/README.md's action table lists the same names.
 */
export const OrderingActions = ["Submit", "Propose", "Write", "Accept", "Decide"] as const
export const SynchronizationActions = ["Stop", "StopData", "Sync", "Resume"] as const
export const PersistenceActions = [
  "PersistBlock",
  "SyncBlocks",
  "Commit",
  "Certify",
  "ReleaseReply",
  "AcceptReply",
  "Checkpoint",
  "StateTransfer",
  "Crash",
  "CrashAll",
  "Restart"
] as const
export const ReconfigurationActions = [
  "RequestJoin",
  "RequestLeave",
  "RequestRemove",
  "Rotate",
  "InstallView",
  "EraseKeys",
  "Compromise"
] as const

export type OrderingAction = (typeof OrderingActions)[number]
export type SynchronizationAction = (typeof SynchronizationActions)[number]
export type PersistenceAction = (typeof PersistenceActions)[number]
export type ReconfigurationAction = (typeof ReconfigurationActions)[number]
export type ActionName = OrderingAction | SynchronizationAction | PersistenceAction | ReconfigurationAction
