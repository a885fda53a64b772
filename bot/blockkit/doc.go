// Package blockkit checks Slack Block Kit payloads against the limits Slack
// enforces: the number of blocks in a message or a modal, the length of
// each text, label, button and option, the number of elements, options and
// fields, unique block ids, and a modal's title, buttons and metadata.
//
// Slack refuses a payload over any of them (chat.postMessage, chat.update,
// chat.postEphemeral and response_url answer invalid_blocks, views.open and
// views.update invalid_arguments), and the user sees nothing. ClustroPG's
// bot runs every message and view it builds through CheckMessage or
// CheckView before sending it, and the fake Slack (bot/slacktest) refuses
// what they refuse, with Slack's error: the same checker on both sides.
//
// The checker reads the JSON that goes on the wire, not slack-go's types,
// so that what is checked is exactly what Slack would read. Each limit is
// a named constant with its source in Slack's reference
// (https://docs.slack.dev/reference/block-kit).
package blockkit
