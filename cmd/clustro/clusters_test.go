package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/clustropg/clustro/kube"
)

// apiServer stands in for one environment's API server: it records the
// paths asked and answers 404.
type apiServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newAPIServer(t *testing.T) *apiServer {
	s := &apiServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`, http.StatusNotFound)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// TestCredentialsAskOnlyTheEnvironmentsCluster: the Slack DM reads a
// database's credentials from the cluster of its environment (the bot
// passes the request's) and never asks another environment's cluster.
func TestCredentialsAskOnlyTheEnvironmentsCluster(t *testing.T) {
	ctx := context.Background()
	var err error
	servers := map[string]*apiServer{"dev": newAPIServer(t), "prod": newAPIServer(t)}
	clients := map[string]*kube.Client{}
	for env, s := range servers {
		if clients[env], err = kube.New(&rest.Config{Host: s.URL}); err != nil {
			t.Fatal(err)
		}
	}
	creds := credentialsByEnvironment(clients)

	for _, tc := range []struct{ env, other string }{{"prod", "dev"}, {"dev", "prod"}} {
		before := len(servers[tc.other].asked())
		if _, _, err := creds(ctx, tc.env, "atlas-"+tc.env, "orders"); err == nil {
			t.Errorf("%s: credentials read from a server that has none", tc.env)
		}
		got := servers[tc.env].asked()
		if len(got) == 0 || !strings.Contains(got[len(got)-1], "/namespaces/atlas-"+tc.env+"/secrets/orders-app") {
			t.Errorf("%s's API server was asked %v, want the app secret of atlas-%s/orders", tc.env, got, tc.env)
		}
		if after := servers[tc.other].asked(); len(after) != before {
			t.Errorf("a %s database's credentials were asked of %s's API server: %v", tc.env, tc.other, after[before:])
		}
	}
	if _, _, err := creds(ctx, "staging", "atlas-staging", "orders"); err == nil || !strings.Contains(err.Error(), `environment "staging" has no cluster`) {
		t.Errorf("an environment without a cluster: %v", err)
	}
	if n := len(servers["dev"].asked()) + len(servers["prod"].asked()); n != 2 {
		t.Errorf("%d requests to the API servers, want 2", n)
	}
}
