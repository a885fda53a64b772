// Package engine runs ClustroPG's durable jobs: workers claim jobs from the
// store's queue, keep their lease alive while a handler runs, and record
// the outcome, so that a crash, a restart or a second replica delays work
// but never loses it or does it twice.
//
// A handler returns nil (done), an error marked Permanent (the job fails
// for good), or any other error (retried with backoff until the job's
// attempts are used). On shutdown the engine stops claiming, lets running
// handlers finish within a grace period, then cancels them and gives their
// jobs back to the queue.
package engine
