package request

import (
	"fmt"
	"strings"
)

// A Problem is one reason a request was refused: the field (as named in the
// request's JSON form, for example "backups.schedule") and a message that
// says what is allowed.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problems lists every reason a request was refused. It is an error, so
// callers can return it as one and recover it with errors.As.
type Problems []Problem

// Error joins the problems as "field: message" pairs.
func (p Problems) Error() string {
	parts := make([]string, len(p))
	for i, pr := range p {
		parts[i] = pr.Field + ": " + pr.Message
	}
	return strings.Join(parts, "; ")
}

// Has reports whether there is a problem with field.
func (p Problems) Has(field string) bool {
	for _, pr := range p {
		if pr.Field == field {
			return true
		}
	}
	return false
}

func (p *Problems) add(field, format string, args ...any) {
	*p = append(*p, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns nil when there are no problems, so that a nil Problems never
// turns into a non-nil error interface.
func (p Problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return p
}
