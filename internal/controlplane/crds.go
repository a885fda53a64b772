package controlplane

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// minimalCRDs are the project's own CRDs for Cluster, ScheduledBackup,
// Backup, Database, ObjectStore and PodMonitor: every field preserved,
// nothing validated.
//
//go:embed minimalcrds/*.yaml
var minimalCRDs embed.FS

// embeddedSource is CRDSource's value for the minimal CRDs.
const embeddedSource = "embedded"

// fieldManager owns what the control plane applies.
const fieldManager = "clustro-controlplane"

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// crdEstablishTimeout bounds the wait for the CRDs to be Established.
const crdEstablishTimeout = 60 * time.Second

// installCRDs applies the CRDs of dir (or the embedded ones when dir is "")
// with server-side apply and waits until each one is Established.
func (cp *ControlPlane) installCRDs(ctx context.Context, dir string) error {
	var fsys fs.FS = minimalCRDs
	root := "minimalcrds"
	cp.crdSource = embeddedSource
	if dir != "" {
		fsys, root, cp.crdSource = os.DirFS(dir), ".", dir
	}
	crds, err := readCRDs(fsys, root)
	if err != nil {
		return fmt.Errorf("install CRDs from %s: %w", cp.crdSource, err)
	}
	dyn, err := dynamic.NewForConfig(cp.cfg)
	if err != nil {
		return fmt.Errorf("install CRDs: %w", err)
	}
	start := time.Now()
	for _, crd := range crds {
		_, err := dyn.Resource(crdResource).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("install CRD %s: %w", crd.GetName(), err)
		}
		cp.crds = append(cp.crds, crd.GetName())
	}
	if err := waitEstablished(ctx, dyn, cp.crds); err != nil {
		return fmt.Errorf("install CRDs: %w", err)
	}
	cp.logf("controlplane: %d CRDs from %s established in %s", len(crds), cp.crdSource, time.Since(start).Round(time.Millisecond))
	return nil
}

// readCRDs decodes every CustomResourceDefinition in the YAML or JSON files
// directly under root, in file name order.
func readCRDs(fsys fs.FS, root string) ([]*unstructured.Unstructured, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, err
	}
	var crds []*unstructured.Unstructured
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || !slices.Contains([]string{".yaml", ".yml", ".json"}, ext) {
			continue
		}
		docs, err := readFile(fsys, path.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		crds = append(crds, docs...)
	}
	if len(crds) == 0 {
		return nil, errors.New("no CustomResourceDefinition found")
	}
	return crds, nil
}

// maxDocument is the decoder's buffer: the Cluster CRD alone is ~460 KB.
const maxDocument = 8 << 20

func readFile(fsys fs.FS, name string) ([]*unstructured.Unstructured, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yamlutil.NewYAMLOrJSONDecoder(f, maxDocument)
	var crds []*unstructured.Unstructured
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return crds, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		if len(obj) == 0 {
			continue // an empty document between separators
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() != "CustomResourceDefinition" {
			return nil, fmt.Errorf("a %s %q, not a CustomResourceDefinition", u.GetKind(), u.GetName())
		}
		crds = append(crds, u)
	}
}

// waitEstablished polls until every named CRD has condition Established=True.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, names []string) error {
	pending := slices.Clone(names)
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, crdEstablishTimeout, true, func(ctx context.Context) (bool, error) {
		for len(pending) > 0 {
			u, err := dyn.Resource(crdResource).Get(ctx, pending[0], metav1.GetOptions{})
			if err != nil {
				return false, nil // not visible yet, or a transient error: poll again
			}
			if !conditionTrue(u, "Established") {
				return false, nil
			}
			pending = pending[1:]
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("wait for CRDs to be established (still waiting for %s): %w", strings.Join(pending, ", "), err)
	}
	return nil
}

// conditionTrue reports whether u's status has condition typ with status "True".
func conditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ {
			return m["status"] == "True"
		}
	}
	return false
}
