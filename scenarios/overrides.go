package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"zoosim/node"
)

// overridesJSON is how Overrides are saved (corpus entries, suite
// results): only what is overridden, the duration as a Go duration.
type overridesJSON struct {
	Servers  int       `json:"servers,omitempty"`
	Quorum   string    `json:"quorum,omitempty"`
	Engine   string    `json:"engine,omitempty"`
	Clients  int       `json:"clients,omitempty"`
	Duration string    `json:"duration,omitempty"`
	Faults   *[]string `json:"faults,omitempty"` // [] is "none"
	ReadMode string    `json:"read_mode,omitempty"`
	Bugs     []string  `json:"bugs,omitempty"`
	Knobs    string    `json:"knobs,omitempty"`
}

// IsZero reports whether o overrides nothing.
func (o Overrides) IsZero() bool {
	return o.Servers == 0 && o.Quorum == "" && o.Engine == "" && o.Clients == 0 && o.Duration == 0 &&
		o.Faults == nil && o.ReadMode == "" && len(o.Bugs) == 0 && o.Knobs == ""
}

// MarshalJSON writes what o overrides, as UnmarshalJSON reads it.
func (o Overrides) MarshalJSON() ([]byte, error) {
	j := overridesJSON{Servers: o.Servers, Quorum: o.Quorum, Engine: o.Engine, Clients: o.Clients,
		Faults: o.Faults, ReadMode: o.ReadMode, Bugs: o.Bugs, Knobs: o.Knobs}
	if o.Duration != 0 {
		j.Duration = time.Duration(o.Duration).String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads overrides strictly: unknown keys, negative counts,
// malformed durations, unknown read modes and bugs are errors. Whether
// they fit a scenario is Scenario.Apply's to say.
func (o *Overrides) UnmarshalJSON(b []byte) error {
	var j overridesJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("overrides: %w", err)
	}
	var errs []string
	if j.Servers < 0 {
		errs = append(errs, fmt.Sprintf("servers %d is negative", j.Servers))
	}
	if j.Clients < 0 {
		errs = append(errs, fmt.Sprintf("clients %d is negative", j.Clients))
	}
	var d time.Duration
	if j.Duration != "" {
		var err error
		if d, err = time.ParseDuration(j.Duration); err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("duration %q: want a positive duration such as 30s", j.Duration))
		}
	}
	switch j.ReadMode {
	case "", "local", "synced", "linearizable":
	default:
		errs = append(errs, fmt.Sprintf("read mode %q: want local, synced or linearizable", j.ReadMode))
	}
	for _, bug := range j.Bugs {
		if !slices.Contains(BugNames, bug) {
			errs = append(errs, fmt.Sprintf("unknown bug %q (known: %s)", bug, strings.Join(BugNames, ", ")))
		}
	}
	if len(errs) > 0 {
		return errors.New("overrides: " + strings.Join(errs, "; "))
	}
	*o = Overrides{Servers: j.Servers, Quorum: j.Quorum, Engine: j.Engine, Clients: j.Clients,
		Duration: node.Time(d), Faults: j.Faults, ReadMode: j.ReadMode, Bugs: j.Bugs, Knobs: j.Knobs}
	return nil
}
