// Package githubtest is an in-process emulator of the part of GitHub's REST
// API that ClustroPG uses, backed by a real bare git repository on disk.
//
// A Server serves refs, blobs, trees and commits (the Git Data API), file
// contents, pull requests (create, get, list, files, edit, and merge by
// each of GitHub's methods over the real repository: a merge commit, a
// squash, or a rebase that writes one commit per pull request commit),
// issue comments, labels, commit statuses and tarballs, in the JSON shapes
// go-github v62 decodes, behind token or GitHub App installation-token
// authentication. routes.go lists the whole surface. It
// answers nothing else: any other method and path gets GitHub's 404 and is
// recorded as unexpected, and a Server made with NewT fails its test at
// cleanup if that happened.
//
// Like GitHub, it counts every API call against a rate limit
// (Options.RateLimit per Options.RateLimitWindow) and says so in
// X-RateLimit-* headers, answers GitHub's 403 once the budget is spent,
// and can be told to answer the next calls with a secondary limit (403 or
// 429 with Retry-After: SecondaryRateLimit). A GET answer carries an ETag;
// the same GET with If-None-Match answers 304, which is not counted.
// RateLimit and Calls tell a test what its code cost.
//
// When its state changes the way GitHub's would (a pull request opened,
// edited, labeled, synchronized, closed, merged or reopened; a comment
// created or edited), the Server sends the webhook GitHub would send, signed
// with the configured secret, to Options.WebhookURL. Go methods play the
// people around the bot: Merge, MergeWith, ClosePull, ReopenPull,
// PushCommit and Comment change the same state and send the same webhooks
// as the API, and the page behind a pull request's html_url has the same
// buttons, for demos.
// Deliver, DeliverRaw and Redeliver send crafted, tampered or repeated
// deliveries for negative tests.
//
// Everything the bot did is inspectable in plain Go (PullRequest, Comments,
// Labels, Statuses, Requests, Deliveries) and in git (GitDir, ReadFile,
// ListTree, Log). Errors GitHub would answer come back from the Go methods
// as *Error, with GitHub's status and message. The git command line (2.38 or
// later, for merge-tree --write-tree) must be installed.
//
// Typical test use, with go-github:
//
//	gh := githubtest.NewT(t, githubtest.Options{
//		Files:         map[string][]byte{"README.md": []byte("# infra\n")},
//		WebhookURL:    bot.URL + "/webhooks/github",
//		WebhookSecret: "s3cret",
//	})
//	client := gh.Client() // BaseURL = gh.URL() + "/", authenticated
//	... run the bot against gh.URL() ...
//	gh.Flush() // wait for the webhooks the bot's calls caused
//	pr, _ := gh.PullRequest(1)
package githubtest
