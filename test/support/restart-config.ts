/** A persistence-mode replica configuration for restarting from a simulator's stored chain in tests. */
import { coinApp } from "../../src/app/coin.ts"
import { genesisHash, viewHash } from "../../src/chain/hash.ts"
import type { Genesis, ReplicaId } from "../../src/chain/types.ts"
import type { ReplicaConfig } from "../../src/core/config.ts"
import { makeConfig } from "../../src/core/config.ts"
import type { Machine } from "../../src/persistence/machine.ts"
import { genesisMachine } from "../../src/persistence/machine.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"

export const restartConfig = (genesis: Genesis, self: ReplicaId, machine: Machine = genesisMachine(coinApp, nodeCrypto, genesis)): ReplicaConfig =>
  makeConfig({
    self,
    chainId: genesis.chainId,
    view: genesis.view,
    limits: genesis.limits,
    crypto: nodeCrypto,
    signer: { sign: (m) => nodeCrypto.sign(new Uint8Array(32).fill(7), m) },
    persistence: {
      mode: genesis.persistence,
      genesis,
      genesisHash: genesisHash(nodeCrypto, genesis),
      viewHash: viewHash(nodeCrypto, genesis.view),
      machine
    }
  })
