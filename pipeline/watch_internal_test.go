package pipeline

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clustropg/clustro/kube"
)

// TestHealthOfBoundsTheOperatorsWords: whatever the operator writes in a
// Cluster's status, the health recorded and told keeps a few lines of it,
// valid UTF-8.
func TestHealthOfBoundsTheOperatorsWords(t *testing.T) {
	long := strings.Repeat("é", 5000)
	h := healthOf(kube.Status{Found: true, Phase: long, PhaseReason: long, CurrentPrimary: long,
		Conditions: []kube.Condition{{Type: "Ready", Status: "False", Reason: "x", Message: long}, {Type: "ContinuousArchiving", Status: "False", Message: long}}})
	for name, v := range map[string]string{"phase": h.Phase, "reason": h.Reason, "readyReason": h.ReadyReason, "archivingReason": h.ArchivingReason, "primary": h.Primary} {
		if len(v) > maxStatusText || !utf8.ValidString(v) || !strings.HasSuffix(v, "…") {
			t.Errorf("%s: %d bytes, valid %v", name, len(v), utf8.ValidString(v))
		}
	}
	if h := healthOf(kube.Status{Found: true, Phase: "Cluster in healthy state"}); h.Phase != "Cluster in healthy state" {
		t.Errorf("a short phase was changed: %q", h.Phase)
	}
}
