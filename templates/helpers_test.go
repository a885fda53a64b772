package templates_test

import (
	"encoding/json"
	"strconv"

	"github.com/clustropg/clustro/request"
)

func specString(s request.Spec) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func itoa(i int) string { return strconv.Itoa(i) }
