/**
 * `smartchain node --config FILE`: runs one replica until SIGINT or SIGTERM (src/node/node.ts).
 */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import type { NodeConfig } from "../node/config.ts"
import { loadNodeConfig } from "../node/config.ts"
import { failWith } from "./report.ts"

/**
 * The replica's modules (shell, transport, API, metrics) load only when a node runs, so the other
 * subcommands start as fast as before.
 */
const runNodeLazily = (config: NodeConfig) => Effect.flatMap(Effect.promise(() => import("../node/node.ts")), (m) => m.runNode(config))

export const nodeCommand = Command.make(
  "node",
  {
    config: Options.file("config").pipe(Options.withDescription("the replica's configuration file (JSON; see src/node/config.ts)"))
  },
  ({ config }) => Effect.flatMap(loadNodeConfig(config), runNodeLazily).pipe(failWith)
).pipe(
  Command.withDescription(
    "Run one replica: replica channels on its genesis address, the HTTP API and /metrics on the configured port. Stops cleanly on Ctrl-C or SIGTERM."
  )
)
