/**
 * How the command reports failures: one line on stderr naming what went wrong, and exit code 1.
 * Typed errors carry their own message; anything else is a defect and is shown in full.
 */
import { Cause, Console, Effect } from "effect"

export const EXIT_FAILURE = 1

export const failWith = <A, E extends { readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.catchAllCause((cause) =>
      Effect.gen(function* () {
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") yield* Console.error(`error: ${failure.value.message}`)
        else yield* Console.error(`internal error:\n${Cause.pretty(cause)}`)
        process.exitCode = EXIT_FAILURE
      })
    )
  )
