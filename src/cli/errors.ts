/** Errors of the command line itself. A UsageError exits with status 2, everything else with 1. */
import { ParleyError } from '../core/api.js'

export class UsageError extends ParleyError {
  override readonly name = 'UsageError'
  constructor (message: string, readonly command?: string) {
    super('ERR_USAGE', message)
  }
}
