// Package e2e holds ClustroPG's end-to-end tests: a request goes through
// the real pipeline — rendering, a pull request on the GitHub emulator (a
// real git repository), signed webhooks, verification, a real terraform
// plan and apply with the kubectl provider from the offline mirror, a real
// kube-apiserver with the CloudNativePG CRDs, the operator stand-in, and a
// real PostgreSQL connection — to the ready notice.
package e2e
