package githubtest

import "net/http"

// routes is the emulator's entire HTTP surface. Anything else answers
// GitHub's 404 and is recorded as an unexpected request.
//
// Every /repos/{owner}/{repo}/... route goes through s.api: authenticated
// with the token or an installation token, for the served repository only.
func (s *Server) routes() http.Handler {
	mux := newRouter(s.handleUnexpected())
	const repo = "/repos/{owner}/{repo}"

	// GitHub App: exchange a JWT for an installation token.
	mux.handle("POST", "/app/installations/{installation_id}/access_tokens", s.handleCreateInstallationToken())

	// Git Data: refs, blobs, trees, commits.
	mux.handle("GET", repo+"/git/ref/{ref...}", s.api(s.handleGetRef()))
	mux.handle("POST", repo+"/git/refs", s.api(s.handleCreateRef()))
	mux.handle("PATCH", repo+"/git/refs/{ref...}", s.api(s.handleUpdateRef()))
	mux.handle("DELETE", repo+"/git/refs/{ref...}", s.api(s.handleDeleteRef()))
	mux.handle("POST", repo+"/git/blobs", s.api(s.handleCreateBlob()))
	mux.handle("GET", repo+"/git/blobs/{sha}", s.api(s.handleGetBlob()))
	mux.handle("POST", repo+"/git/trees", s.api(s.handleCreateTree()))
	mux.handle("GET", repo+"/git/trees/{sha...}", s.api(s.handleGetTree()))
	mux.handle("POST", repo+"/git/commits", s.api(s.handleCreateCommit()))
	mux.handle("GET", repo+"/git/commits/{sha}", s.api(s.handleGetCommit()))

	// Contents.
	mux.handle("GET", repo+"/contents", s.api(s.handleGetContents()))
	mux.handle("GET", repo+"/contents/{path...}", s.api(s.handleGetContents()))

	// Pull requests.
	mux.handle("POST", repo+"/pulls", s.api(s.handleCreatePull()))
	mux.handle("GET", repo+"/pulls", s.api(s.handleListPulls()))
	mux.handle("GET", repo+"/pulls/{number}", s.api(s.handleGetPull()))
	mux.handle("PATCH", repo+"/pulls/{number}", s.api(s.handleUpdatePull()))
	mux.handle("GET", repo+"/pulls/{number}/files", s.api(s.handleListPullFiles()))
	mux.handle("PUT", repo+"/pulls/{number}/merge", s.api(s.handleMergePull()))

	// Issues: comments and labels on pull requests.
	mux.handle("GET", repo+"/issues/comments/{comment_id}", s.api(s.handleGetComment()))
	mux.handle("PATCH", repo+"/issues/comments/{comment_id}", s.api(s.handleUpdateComment()))
	mux.handle("POST", repo+"/issues/{number}/comments", s.api(s.handleCreateComment()))
	mux.handle("GET", repo+"/issues/{number}/comments", s.api(s.handleListComments()))
	mux.handle("POST", repo+"/issues/{number}/labels", s.api(s.handleAddLabels()))

	// Commit statuses.
	mux.handle("POST", repo+"/statuses/{sha}", s.api(s.handleCreateStatus()))
	mux.handle("GET", repo+"/commits/{ref...}/status", s.api(s.handleCombinedStatus()))
	mux.handle("GET", repo+"/commits/{ref...}/statuses", s.api(s.handleListStatuses()))

	// Archives: the API redirects to a codeload-like download URL.
	mux.handle("GET", repo+"/tarball", s.api(s.handleTarball()))
	mux.handle("GET", repo+"/tarball/{ref...}", s.api(s.handleTarball()))
	mux.handle("GET", "/codeload/{owner}/{repo}/legacy.tar.gz/{sha}", s.handleCodeload())

	// Web pages, for a person following an html_url (the demo).
	mux.handle("GET", "/{owner}/{repo}/pull/{number}", s.handlePullPage())
	mux.handle("POST", "/{owner}/{repo}/pull/{number}/{action}", s.handlePullAction())

	return s.record(mux)
}
