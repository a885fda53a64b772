// Package gitops is ClustroPG's side of GitHub: it opens one pull request
// per database change on the infra repository (all files in one commit on
// a branch clustro/<request-id>, through the Git Data API), keeps one plan
// comment per workspace edited in place, sets the clustro/plan commit
// status, fetches the tree of a commit to plan or apply it, and receives
// GitHub's webhooks. Package githubtest is an emulator of the GitHub API
// that holds a real git repository, for tests and the demo.
package gitops
