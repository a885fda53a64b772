// Package bot is ClustroPG's Slack app: the /pg slash command, the request
// form (a modal), conversations in a thread ("@clustro I need a postgres
// for billing"), and the progress of every request in one channel message
// updated in place with a threaded reply per step. Credentials of a ready
// database go to the requester by direct message only.
//
// Slack reaches the bot over HTTP (Handler: /slack/commands,
// /slack/interactions, /slack/events, each request's v0 signature checked
// on the raw body first) or over Socket Mode (Run, with an xapp- token).
// Both transports call the same functions: command, interaction and event
// take what Slack sent and return what to acknowledge with; slow work
// (Slack Web API calls, store reads) runs after the acknowledgement, on a
// bounded pool of workers (pool.go: a command that finds it full is
// answered "busy" in its acknowledgement), and anything that must not be
// lost goes through the pipeline, whose Submit, Change and Retry are
// durable.
//
// The bot translates and never decides policy: a request is validated by
// request.Policy, whose Problems are shown field by field (inline in the
// modal, as a list in a reply), and the thread's buttons and the form's
// selects offer only what the chosen environment allows (choices.go). The
// bot delivers the pipeline's notices (Notify), never called by it: the
// wiring registers Notify as the handler of the notify jobs.
//
// Every message is built with the helpers of blocks.go, which split long
// texts into sections and cut labels to Slack's limits, and leaves through
// one function (send) that checks it with package blockkit, the checker
// the fake Slack refuses with; views are checked the same way. Long lists
// are pages (/pg list and /pg drift: 25 databases a page, with Previous
// and Next).
//
// Day two (daytwo.go): the health and drift notices of a ready database
// are replies in its thread; /pg reconcile asks the pipeline to plan its
// reviewed code again, and the plan comes back in the thread with an
// "Apply this plan" button, applied only once someone allowed clicks it
// (the owning team's channel, slack.adminGroups and the environment's
// reconcile groups; see config.ReconcileAccess).
//
// Package slacktest is a strict fake of the Slack Web API for the methods
// the bot uses, with helpers that sign requests the way Slack does;
// package blockkit holds Slack's Block Kit limits and their checker.
package bot
