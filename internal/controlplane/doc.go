// Package controlplane runs an offline Kubernetes control plane, etcd and
// kube-apiserver built by `make tools`, for ClustroPG's tests, the e2e
// harness and the demo. It installs the CloudNativePG CustomResourceDefinitions
// (the real ones from ../shared/cnpg/crds when present, otherwise minimal
// embedded ones) and writes a kubeconfig that terraform, kubectl and
// client-go accept.
//
// No kube-controller-manager, scheduler or kubelet runs: there is no garbage
// collection, no namespace deletion, no pods. Because no CloudNativePG
// operator runs either, RunOperator starts a stand-in that plays its part
// against a real local PostgreSQL: it creates a database and role per
// Cluster, writes the <cluster>-app Secret, reports the Cluster healthy (or
// slow, failing or degraded, as a test asks) with its instance names and
// primary as CloudNativePG does, fails it over to another instance on
// request (Operator.Failover), and emits Events as it goes.
//
// Start and the stand-in return once ready; both run until Stop. Processes
// run in their own process group, which Stop kills.
package controlplane
