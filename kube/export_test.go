package kube

// WatchResource is WatchClusters for another resource, for tests of a
// missing CRD.
var WatchResource = (*Client).watchResource
