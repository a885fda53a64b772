// Package pipeline carries a database request from submitted to ready
// through durable jobs: open the pull request, verify and plan each push,
// apply on merge, wait for the CloudNativePG cluster, check the
// credentials, and notify at every step. Every step is a job in the store's
// queue and every state change a validated transition with an audit event,
// so a crash or a second replica delays a request but never loses it or
// applies it twice.
//
// The entry points (Slack, the REST API, the CLI) call Submit, Change and
// Retry; GitHub's webhooks arrive through Receive as github_event jobs.
package pipeline
