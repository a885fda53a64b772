package request

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Reservation is what a database reserves on the cluster: per instance and
// in total (times the instances).
type Reservation struct {
	Instances             int
	CPU, Memory           string // requests per instance
	CPULimit, MemoryLimit string
	Storage, WALStorage   string // volumes per instance
	TotalCPU, TotalMemory string // requests times instances
	TotalStorage          string // data and WAL volumes times instances
}

// Reserved computes the reservation of a resolved Spec.
func (p *Policy) Reserved(s Spec) (Reservation, error) {
	preset, ok := p.Sizes[s.Size]
	if !ok {
		return Reservation{}, fmt.Errorf("size %q has no preset", s.Size)
	}
	storage := preset.Storage
	if s.Storage != "" {
		storage = s.Storage
	}
	times := func(q string, n int) (resource.Quantity, error) {
		v, err := resource.ParseQuantity(q)
		if err != nil {
			return v, fmt.Errorf("quantity %q: %w", q, err)
		}
		out := v.DeepCopy()
		for i := 1; i < n; i++ {
			out.Add(v)
		}
		return out, nil
	}
	cpu, err := times(preset.CPU.Request, s.Instances)
	if err != nil {
		return Reservation{}, err
	}
	mem, err := times(preset.Memory.Request, s.Instances)
	if err != nil {
		return Reservation{}, err
	}
	data, err := times(storage, s.Instances)
	if err != nil {
		return Reservation{}, err
	}
	wal, err := times(preset.WALStorage, s.Instances)
	if err != nil {
		return Reservation{}, err
	}
	data.Add(wal)
	return Reservation{
		Instances: s.Instances,
		CPU:       preset.CPU.Request, CPULimit: preset.CPU.Limit,
		Memory: preset.Memory.Request, MemoryLimit: preset.Memory.Limit,
		Storage: storage, WALStorage: preset.WALStorage,
		TotalCPU: cpu.String(), TotalMemory: mem.String(), TotalStorage: data.String(),
	}, nil
}
