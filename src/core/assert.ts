/**
 * Assertions state what must hold at the start and end of a transition. A failed assertion is a
 * programmer error, never peer misbehaviour (that is rejected and counted before `step`): it
 * stops the replica loudly.
 */
export class AssertionFailure extends Error {
  override readonly name = "AssertionFailure"
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message)
}
