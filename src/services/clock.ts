/**
 * The replica's clock: the time that becomes Tick inputs, and the interval between ticks. The
 * live layer reads Effect's Clock, so tests can drive it with TestClock.
 */
import { Clock as EffectClock, Context, Duration, Effect, Layer } from "effect"

export interface ClockImpl {
  /** Milliseconds since the replica started. */
  readonly nowMs: Effect.Effect<number>
  /** Waits one tick interval. */
  readonly sleepTick: Effect.Effect<void>
  readonly tickMs: number
}

export class ReplicaClock extends Context.Tag("smartchain/ReplicaClock")<ReplicaClock, ClockImpl>() {}

export const clockLayer = (tickMs: number): Layer.Layer<ReplicaClock> =>
  Layer.effect(
    ReplicaClock,
    Effect.gen(function* () {
      const start = yield* EffectClock.currentTimeMillis
      return {
        nowMs: Effect.map(EffectClock.currentTimeMillis, (t) => t - start),
        sleepTick: Effect.sleep(Duration.millis(tickMs)),
        tickMs
      }
    })
  )
