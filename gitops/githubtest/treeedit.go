package githubtest

import (
	"fmt"
	"strings"
)

// treeEdit is one change to a tree: set path to an object, or delete it.
type treeEdit struct {
	Path    string
	Mode    string
	Type    string
	SHA     string
	Content *string // to be stored as a blob, whose name then goes in SHA
	Delete  bool
}

// dirNode is a directory being edited: the entries of one tree, with the
// subdirectories that were descended into loaded as children.
type dirNode struct {
	entries map[string]*dirEntry
}

type dirEntry struct {
	mode, typ, sha string
	child          *dirNode // loaded subtree; nil if untouched
}

// editTree applies edits in order on top of base ("" = empty tree) and
// writes the result, rewriting only the directories the edits touch, as
// GitHub's POST /git/trees does. Deleting a path removes it (a directory with
// everything under it); directories left empty disappear.
func (g *gitRepo) editTree(base string, edits []treeEdit) (string, error) {
	root := &dirNode{entries: map[string]*dirEntry{}}
	if base != "" {
		var err error
		if root, err = g.loadDir(base); err != nil {
			return "", err
		}
	}
	for _, e := range edits {
		if err := g.applyEdit(root, e); err != nil {
			return "", err
		}
	}
	return g.writeDir(root)
}

func (g *gitRepo) loadDir(tree string) (*dirNode, error) {
	entries, err := g.lsTree(tree, false)
	if err != nil {
		return nil, err
	}
	d := &dirNode{entries: make(map[string]*dirEntry, len(entries))}
	for _, e := range entries {
		d.entries[e.Path] = &dirEntry{mode: e.Mode, typ: e.Type, sha: e.SHA}
	}
	return d, nil
}

func (g *gitRepo) applyEdit(root *dirNode, e treeEdit) error {
	parts := strings.Split(e.Path, "/")
	dir := root
	for _, name := range parts[:len(parts)-1] {
		ent := dir.entries[name]
		if ent == nil || ent.typ != "tree" {
			if e.Delete {
				return nil // nothing there to delete
			}
			ent = &dirEntry{mode: "040000", typ: "tree", child: &dirNode{entries: map[string]*dirEntry{}}}
			dir.entries[name] = ent
		}
		if ent.child == nil {
			child, err := g.loadDir(ent.sha)
			if err != nil {
				return fmt.Errorf("edit %s: %w", e.Path, err)
			}
			ent.child = child
		}
		dir = ent.child
	}
	name := parts[len(parts)-1]
	if e.Delete {
		delete(dir.entries, name)
		return nil
	}
	dir.entries[name] = &dirEntry{mode: e.Mode, typ: e.Type, sha: e.SHA}
	return nil
}

// writeDir writes d and every loaded subdirectory, bottom-up, and returns the
// name of d's tree.
func (g *gitRepo) writeDir(d *dirNode) (string, error) {
	entries := make([]treeEntry, 0, len(d.entries))
	for name, ent := range d.entries {
		if ent.child != nil {
			if len(ent.child.entries) == 0 {
				continue
			}
			sha, err := g.writeDir(ent.child)
			if err != nil {
				return "", err
			}
			ent.sha = sha
		}
		entries = append(entries, treeEntry{Mode: ent.mode, Type: ent.typ, SHA: ent.sha, Path: name})
	}
	return g.mktree(entries)
}
