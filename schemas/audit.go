package schemas

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// AuditEntry records one change of an office record: who, when, from
// which device, and which fields changed from what to what.
type AuditEntry struct {
	ID       string        `json:"id" bson:"_id"` // entity/id/version: one entry per version
	Entity   string        `json:"entity" bson:"entity"`
	EntityID string        `json:"entityId" bson:"entityId"`
	Action   string        `json:"action" bson:"action"` // create, update, delete
	Version  int64         `json:"version" bson:"version"`
	ActorID  string        `json:"actorId" bson:"actorId"`
	Role     Role          `json:"role" bson:"role"`
	DeviceID string        `json:"deviceId,omitempty" bson:"deviceId,omitempty"`
	At       time.Time     `json:"at" bson:"at"`
	Changes  []FieldChange `json:"changes" bson:"changes"`
	Note     string        `json:"note,omitempty" bson:"note,omitempty"`
}

// FieldChange is one field's before and after, as JSON values. Personal
// data shows as Masked.
type FieldChange struct {
	Field string `json:"field" bson:"field"`
	From  any    `json:"from" bson:"from"`
	To    any    `json:"to" bson:"to"`
}

// Masked stands in for a personal value in the audit trail.
const Masked = "***"

// Audited entities.
const (
	EntityWorker      = "worker"
	EntityCustomer    = "customer"
	EntityServiceType = "serviceType"
	EntityVisit       = "visit"
	EntitySchedule    = "schedule"
	EntityAlert       = "alert"
	EntityComplaint   = "complaint"
	EntityUser        = "user"
)

// AuditID is the id of the entry for a version of an entity; being derived,
// a retried write cannot record the same version twice.
func AuditID(entity, id string, version int64) string {
	return fmt.Sprintf("%s/%s/%d", entity, id, version)
}

// Diff lists the fields that differ between before and after (nil before
// means a creation), by their JSON paths. Fields whose path matches one of
// the masked patterns ("phone", "addresses.*.text", "household") are shown
// as Masked, once for the whole pattern: which of a household's fields
// changed (infants: false to true) would tell as much as the values.
func Diff(before, after any, masked ...string) []FieldChange {
	a, b := flatten(before), flatten(after)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []FieldChange
	seen := map[string]int{} // masked field: its index in out
	for k := range keys {
		if ignoredInDiff(k) {
			continue
		}
		from, to := a[k], b[k]
		if reflect.DeepEqual(from, to) {
			continue
		}
		if field, ok := maskedPrefix(k, masked); ok {
			i, ok := seen[field]
			if !ok {
				i = len(out)
				seen[field] = i
				out = append(out, FieldChange{Field: field})
			}
			// Set on a side if any field under the pattern is.
			if from != nil {
				out[i].From = Masked
			}
			if to != nil {
				out[i].To = Masked
			}
			continue
		}
		out = append(out, FieldChange{Field: k, From: from, To: to})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	if out == nil {
		out = []FieldChange{}
	}
	return out
}

func ignoredInDiff(path string) bool {
	return path == "version" || path == "updatedAt" || path == "createdAt"
}

func flatten(v any) map[string]any {
	out := map[string]any{}
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return out
	}
	var m any
	if err := json.Unmarshal(b, &m); err != nil {
		return out
	}
	var walk func(prefix string, x any)
	walk = func(prefix string, x any) {
		switch t := x.(type) {
		case map[string]any:
			if len(t) == 0 && prefix != "" {
				out[prefix] = t
			}
			for k, vv := range t {
				walk(join(prefix, k), vv)
			}
		case []any:
			if len(t) == 0 {
				out[prefix] = []any{}
			}
			for i, vv := range t {
				walk(join(prefix, fmt.Sprint(i)), vv)
			}
		default:
			out[prefix] = t
		}
	}
	walk("", m)
	return out
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// maskedPrefix matches a dotted path against patterns where * stands for
// one segment (an array index or a key), and returns the part of the path
// the first matching pattern covers.
func maskedPrefix(path string, patterns []string) (string, bool) {
	ps := strings.Split(path, ".")
	for _, pat := range patterns {
		qs := strings.Split(pat, ".")
		if len(qs) > len(ps) {
			continue
		}
		ok := true
		for i, q := range qs {
			if q != "*" && q != ps[i] {
				ok = false
				break
			}
		}
		if ok {
			return strings.Join(ps[:len(qs)], "."), true
		}
	}
	return "", false
}
