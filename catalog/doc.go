// Package catalog describes each database as a Backstage catalog entity: a
// Resource of type database owned by the requesting team, written as the
// workspace's catalog-info.yaml (for Backstage's GitHub discovery) and served
// as JSON by the entities endpoint (for an entity provider).
package catalog
