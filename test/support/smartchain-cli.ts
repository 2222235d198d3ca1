/** Runs the `smartchain` command in the test process, capturing what it prints and its exit code. */
import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { vi } from "vitest"
import { commands } from "../../src/cli/commands.ts"

export interface CliRun {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

export const runSmartchain = async (...args: Array<string>): Promise<CliRun> => {
  const out: Array<string> = []
  const err: Array<string> = []
  const log = vi.spyOn(console, "log").mockImplementation((...a: Array<unknown>) => void out.push(a.map(String).join(" ")))
  const error = vi.spyOn(console, "error").mockImplementation((...a: Array<unknown>) => void err.push(a.map(String).join(" ")))
  const saved = process.exitCode
  process.exitCode = undefined
  try {
    const cli = Command.run(Command.make("smartchain").pipe(Command.withSubcommands(commands)), { name: "smartchain", version: "test" })
    await Effect.runPromise(cli(["node", "smartchain", ...args]).pipe(Effect.provide(NodeContext.layer)))
    return { status: typeof process.exitCode === "number" ? process.exitCode : 0, stdout: out.join("\n"), stderr: err.join("\n") }
  } finally {
    log.mockRestore()
    error.mockRestore()
    process.exitCode = saved
  }
}
