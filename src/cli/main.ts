/**
 * The `smartchain` command. Each subcommand lives in its own module; this file wires them into
 * one @effect/cli application and runs it on Node.
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { commands } from "./commands.ts"

const smartchain = Command.make("smartchain").pipe(
  Command.withDescription("SmartChain: a permissioned blockchain on Byzantine state machine replication."),
  Command.withSubcommands(commands)
)

const cli = Command.run(smartchain, { name: "smartchain", version: "0.1.0" })

cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain({ disableErrorReporting: false }))
