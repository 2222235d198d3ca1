/**
 * Progress display for long work. On a terminal it draws a bar (cli-progress) on stderr; when
 * stderr is not a terminal (CI, pipes) it prints one line at each tenth of the work, so logs show
 * progress without control characters.
 */
import { SingleBar } from "cli-progress"

export interface Progress {
  readonly update: (done: number) => void
  readonly stop: () => void
}

export const startProgress = (label: string, total: number): Progress => {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false
    })
    bar.start(total, 0)
    return { update: (done) => bar.update(done), stop: () => bar.stop() }
  }
  let nextTenth = 1
  return {
    update: (done) => {
      while (total > 0 && done * 10 >= nextTenth * total && nextTenth <= 10) {
        process.stderr.write(`${label}: ${done}/${total} (${nextTenth * 10}%)\n`)
        nextTenth++
      }
    },
    stop: () => {}
  }
}
