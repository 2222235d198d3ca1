// Lint rules. The pure folders (the protocol core and the chain format) may not reach for I/O,
// services, the clock or randomness: everything they need comes in as inputs.
import js from "@eslint/js"
import tseslint from "typescript-eslint"

const pureFolders = [
  "src/core/**",
  "src/ordering/**",
  "src/synchronization/**",
  "src/persistence/**",
  "src/reconfiguration/**",
  "src/chain/**"
]

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "data/**", "bench/results/**", "**/*.js", "!eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-constant-condition": ["error", { checkLoops: false }]
    }
  },
  {
    files: pureFolders,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "Pure modules do no I/O: node built-ins belong to services." },
            { group: ["classic-level", "classic-level/*"], message: "Storage is reached through the BlockStore service." },
            { group: ["**/services/**", "**/replica/**", "**/cli/**", "**/client/**"], message: "Pure modules may not import services or the shell." },
            { group: ["fs", "net", "crypto", "os", "child_process", "worker_threads", "timers", "path"], message: "Pure modules do no I/O." }
          ]
        }
      ],
      "no-restricted-globals": [
        "error",
        { name: "Date", message: "Time enters the core as Tick inputs." },
        { name: "setTimeout", message: "Timers belong to the shell." },
        { name: "setInterval", message: "Timers belong to the shell." },
        { name: "setImmediate", message: "Timers belong to the shell." },
        { name: "queueMicrotask", message: "Scheduling belongs to the shell." },
        { name: "process", message: "Pure modules do not touch the process." },
        { name: "performance", message: "Time enters the core as Tick inputs." },
        { name: "crypto", message: "Crypto is a service; the core sees verified inputs." }
      ],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "Randomness enters the core as inputs." },
        { object: "globalThis", property: "Date", message: "Time enters the core as Tick inputs." }
      ]
    }
  }
)
