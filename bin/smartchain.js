#!/usr/bin/env node
// Launcher for the `smartchain` command: registers the TypeScript loader, then runs the CLI entry point.
import { register } from "tsx/esm/api"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

register()
const root = join(dirname(fileURLToPath(import.meta.url)), "..")
await import(pathToFileURL(join(root, "src/cli/main.ts")).href)
