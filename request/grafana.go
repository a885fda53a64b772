package request

import (
	"net/url"
	"strconv"
	"strings"
)

// Grafana locates the CloudNativePG dashboard (grafana.com 20417) that every
// database links to.
type Grafana struct {
	// URL is Grafana's base URL; empty turns dashboard links off.
	URL string `json:"url"`
	// DashboardUID is the dashboard's uid; the official one is cloudnative-pg.
	DashboardUID string `json:"dashboardUID"`
	// OrgID is added as orgId when not zero.
	OrgID int `json:"orgId,omitempty"`
}

// DashboardURL is the deep link to a cluster's dashboard, or "" when Grafana
// is not configured: <grafana>/d/<uid>/cloudnativepg?var-namespace=<ns>&var-cluster=<name>.
func (g Grafana) DashboardURL(namespace, cluster string) string {
	if g.URL == "" {
		return ""
	}
	uid := g.DashboardUID
	if uid == "" {
		uid = "cloudnative-pg"
	}
	// Built by hand: url.Values.Encode sorts keys, the documented order is kept.
	var b strings.Builder
	b.WriteString(strings.TrimRight(g.URL, "/"))
	b.WriteString("/d/" + url.PathEscape(uid) + "/cloudnativepg?")
	if g.OrgID != 0 {
		b.WriteString("orgId=" + strconv.Itoa(g.OrgID) + "&")
	}
	b.WriteString("var-namespace=" + url.QueryEscape(namespace) + "&var-cluster=" + url.QueryEscape(cluster))
	return b.String()
}

// Dashboard is a database's dashboard link, or "": every link ClustroPG
// gives (the ready notice, the API, the catalog entity) is made here, from
// the namespace the policy gives the database and its cluster's name.
func (g Grafana) Dashboard(p *Policy, s Spec) string {
	return g.DashboardURL(p.NamespaceFor(s), NamesOf(s).Cluster)
}
