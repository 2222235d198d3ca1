/**
 * `smartchain init`: creates a new network's genesis file and the private keys of its replicas
 * and minters. Layout of the output directory:
 *
 *   genesis.json                   the genesis (chain id, view 0, persistence mode, minters, limits)
 *   replica-<i>/identity.key       replica i's identity key (mode 0600)
 *   replica-<i>/view-0.key         replica i's view-0 key, in its own file so it can be erased alone
 *   clients/minter-<j>.key         the keys genesis lists as coin minters
 *
 * Nothing existing is overwritten: init refuses a directory that already holds a genesis file.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { encodeGenesisJson } from "../chain/genesis-json.ts"
import type { Genesis, Member, PersistenceMode } from "../chain/types.ts"
import { byzantineQuorum, faultsTolerated } from "../core/quorum.ts"
import { defaultLimits } from "../core/limits.ts"
import type { CryptoImpl } from "../services/crypto.ts"
import { writeKeyFile, writePrivateFile } from "../services/keystore.ts"

export class InitError extends Schema.TaggedError<InitError>()("InitError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

export interface InitOptions {
  readonly replicas: number
  readonly out: string
  readonly mode: PersistenceMode
  readonly chainId: string
  readonly host: string
  readonly basePort: number
  readonly minters: number
}

export interface InitResult {
  readonly genesisPath: string
  readonly genesis: Genesis
  readonly replicaDirs: ReadonlyArray<string>
  readonly minterKeyPaths: ReadonlyArray<string>
}

export const replicaDir = (out: string, replica: number) => path.join(out, `replica-${replica}`)
export const identityKeyPath = (dir: string) => path.join(dir, "identity.key")
export const viewKeyPath = (dir: string, view: bigint) => path.join(dir, `view-${view}.key`)

const REPLICAS_MIN = 1
const REPLICAS_MAX = 64

export const validateInitOptions = (o: InitOptions): Effect.Effect<void, InitError> => {
  if (!Number.isInteger(o.replicas) || o.replicas < REPLICAS_MIN || o.replicas > REPLICAS_MAX)
    return Effect.fail(new InitError({ reason: `--replicas must be an integer from ${REPLICAS_MIN} to ${REPLICAS_MAX}, got ${o.replicas}` }))
  if (!Number.isInteger(o.basePort) || o.basePort < 1 || o.basePort + 2 * o.replicas > 65535)
    return Effect.fail(new InitError({ reason: `--base-port ${o.basePort} leaves no room for ${o.replicas} replicas (each uses two ports)` }))
  if (!Number.isInteger(o.minters) || o.minters < 0 || o.minters > 64)
    return Effect.fail(new InitError({ reason: `--minters must be an integer from 0 to 64, got ${o.minters}` }))
  if (o.chainId.length < 1 || o.chainId.length > 64 || !/^[A-Za-z0-9._-]+$/.test(o.chainId))
    return Effect.fail(new InitError({ reason: `--chain-id must be 1 to 64 characters of A-Z a-z 0-9 . _ -, got "${o.chainId}"` }))
  return Effect.void
}

/** Creates the genesis and keys. Keys are written (0600, synced) before the genesis that names them. */
export const initNetwork = (crypto: CryptoImpl, o: InitOptions) =>
  Effect.gen(function* () {
    yield* validateInitOptions(o)
    const genesisPath = path.join(o.out, "genesis.json")
    const exists = yield* Effect.promise(() =>
      fs.access(genesisPath).then(
        () => true,
        () => false
      )
    )
    if (exists) return yield* new InitError({ reason: `${genesisPath} already exists; choose another --out (init never overwrites a network)` })

    const members: Array<Member> = []
    const replicaDirs: Array<string> = []
    for (let replica = 0; replica < o.replicas; replica++) {
      const dir = replicaDir(o.out, replica)
      const identitySecret = crypto.generateSecretKey()
      const viewSecret = crypto.generateSecretKey()
      const identityKey = crypto.publicKeyFromSecret(identitySecret)
      const viewKey = crypto.publicKeyFromSecret(viewSecret)
      yield* writeKeyFile(identityKeyPath(dir), { kind: "identity", replica, view: undefined, publicKey: identityKey, secretKey: identitySecret })
      yield* writeKeyFile(viewKeyPath(dir, 0n), { kind: "view", replica, view: 0n, publicKey: viewKey, secretKey: viewSecret })
      members.push({ replica, identityKey, viewKey, address: `${o.host}:${o.basePort + replica}` })
      replicaDirs.push(dir)
    }

    const minters: Array<Uint8Array> = []
    const minterKeyPaths: Array<string> = []
    for (let j = 0; j < o.minters; j++) {
      const secretKey = crypto.generateSecretKey()
      const publicKey = crypto.publicKeyFromSecret(secretKey)
      const keyPath = path.join(o.out, "clients", `minter-${j}.key`)
      yield* writeKeyFile(keyPath, { kind: "client", replica: undefined, view: undefined, publicKey, secretKey })
      minters.push(publicKey)
      minterKeyPaths.push(keyPath)
    }

    const n = o.replicas
    const f = faultsTolerated(n)
    const genesis: Genesis = {
      chainId: o.chainId,
      view: { id: 0n, members, n, f },
      persistence: o.mode,
      minters,
      admission: [],
      limits: defaultLimits
    }
    yield* writePrivateFile(genesisPath, JSON.stringify(encodeGenesisJson(genesis), null, 2) + "\n").pipe(
      Effect.mapError((e) => new InitError({ reason: e.message }))
    )
    // The genesis is public: relax its mode after the synced write.
    yield* Effect.promise(() => fs.chmod(genesisPath, 0o644))
    return { genesisPath, genesis, replicaDirs, minterKeyPaths, quorum: byzantineQuorum(n, f) }
  })
