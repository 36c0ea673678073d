/** The negative replies of the Lua scripts, by name, so no caller compares magic numbers. */
export const Refusal = {
  /** The job record does not exist (expired, or never written). */
  NoRecord: -1,
  /** The record shows another attempt, stage or entry as current: this worker lost its lease. */
  NotCurrentAttempt: -2,
  /** An idempotency key was reused with a different request. */
  IdempotencyConflict: -3,
  /** The queue holds more undone jobs than allowed (MAX_BACKLOG). */
  BacklogFull: -4,
} as const;
export type Refusal = (typeof Refusal)[keyof typeof Refusal];
