/**
 * The replica's clock: the time that becomes Tick inputs, and the interval between ticks. The
 * live layer reads Effect's Clock, so tests can drive it with TestClock.
 */
import { Context, Duration, Effect, Layer } from "effect"

export interface ClockImpl {
  /** Milliseconds since the replica started. */
  readonly nowMs: Effect.Effect<number>
  /** `nowMs` read at once (from the same clock), for the replica loop's synchronous paths. */
  readonly nowMsNow?: () => number
  /** Waits one tick interval. */
  readonly sleepTick: Effect.Effect<void>
  readonly tickMs: number
}

export class ReplicaClock extends Context.Tag("smartchain/ReplicaClock")<ReplicaClock, ClockImpl>() {}

export const clockLayer = (tickMs: number): Layer.Layer<ReplicaClock> =>
  Layer.effect(
    ReplicaClock,
    Effect.gen(function* () {
      const clock = yield* Effect.clock
      const start = clock.unsafeCurrentTimeMillis()
      return {
        nowMs: Effect.sync(() => clock.unsafeCurrentTimeMillis() - start),
        nowMsNow: () => clock.unsafeCurrentTimeMillis() - start,
        sleepTick: Effect.sleep(Duration.millis(tickMs)),
        tickMs
      }
    })
  )
