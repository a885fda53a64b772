package api

// Route is a route of the API as the tests see it.
type Route struct{ Method, Path, Scope string }

// Routes lists what routes.go serves.
func Routes(d Deps) []Route {
	a := &handlers{deps: d, auth: newAuthenticator(d.Tokens)}
	var out []Route
	for _, rt := range a.routes() {
		out = append(out, Route{rt.method, rt.path, rt.scope})
	}
	return out
}
