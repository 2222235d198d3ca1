/**
 * The subcommands of `smartchain`, with their options and help texts.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { nodeCrypto } from "../services/crypto.ts"
import { initNetwork } from "./init.ts"
import { verifyCommand } from "./verify.ts"
import { failWith } from "./report.ts"
import { runCluster } from "./cluster.ts"
import { nodeCommand } from "./node.ts"
import { statusCommand } from "./status.ts"
import { coinCommand } from "./coin.ts"
import { benchCommand } from "./bench.ts"
import { viewCommand } from "./view.ts"

const init = Command.make(
  "init",
  {
    replicas: Options.integer("replicas").pipe(Options.withDescription("number of replicas in view 0"), Options.withDefault(4)),
    out: Options.directory("out").pipe(Options.withDescription("directory to create the network in")),
    mode: Options.choice("mode", ["memory", "weak", "strong"]).pipe(
      Options.withDescription("persistence mode (PROTOCOL.md section 4)"),
      Options.withDefault("strong" as const)
    ),
    chainId: Options.text("chain-id").pipe(Options.withDescription("chain id (default: random)"), Options.optional),
    host: Options.text("host").pipe(Options.withDescription("host of every replica address"), Options.withDefault("127.0.0.1")),
    basePort: Options.integer("base-port").pipe(Options.withDescription("port of replica 0; replica i listens on base + i"), Options.withDefault(7100)),
    minters: Options.integer("minters").pipe(Options.withDescription("coin minter keys to create and list in genesis"), Options.withDefault(1))
  },
  (o) =>
    Effect.gen(function* () {
      const chainId = o.chainId._tag === "Some" ? o.chainId.value : `smartchain-${Buffer.from(nodeCrypto.generateSecretKey().subarray(0, 4)).toString("hex")}`
      const result = yield* initNetwork(nodeCrypto, { ...o, chainId })
      yield* Console.log(`created network ${chainId}: ${o.replicas} replicas (f = ${result.genesis.view.f}, quorum ${result.quorum}), ${o.mode} persistence`)
      yield* Console.log(`  genesis      ${result.genesisPath}`)
      for (const dir of result.replicaDirs) yield* Console.log(`  replica key  ${dir}/identity.key, ${dir}/view-0.key`)
      for (const p of result.minterKeyPaths) yield* Console.log(`  minter key   ${p}`)
    }).pipe(failWith)
).pipe(Command.withDescription("Create a network: a genesis file and the private keys of its replicas and minters."))

const cluster = Command.make(
  "cluster",
  {
    replicas: Options.integer("replicas").pipe(Options.withDescription("number of replica processes"), Options.withDefault(4)),
    mode: Options.choice("mode", ["memory", "weak", "strong"]).pipe(
      Options.withDescription("persistence mode (PROTOCOL.md section 4)"),
      Options.withDefault("strong" as const)
    ),
    dir: Options.directory("dir").pipe(Options.withDescription("directory of the network and every replica's data"), Options.withDefault("data")),
    basePort: Options.integer("base-port").pipe(
      Options.withDescription("replica i listens on base + i for replicas and on base + N + i for HTTP"),
      Options.withDefault(7100)
    ),
    host: Options.text("host").pipe(Options.withDescription("address every replica binds"), Options.withDefault("127.0.0.1")),
    fresh: Options.boolean("fresh").pipe(Options.withDescription("delete the directory's network and data first"))
  },
  (o) => runCluster(o).pipe(failWith)
).pipe(
  Command.withDescription(
    "Run a local network: creates it under --dir if needed, starts one `smartchain node` process per replica, prints their endpoints, and stops them all on Ctrl-C."
  )
)

export const commands = [init, verifyCommand, nodeCommand, cluster, statusCommand, coinCommand, benchCommand, viewCommand] as const
