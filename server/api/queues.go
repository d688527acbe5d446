package api

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// filterParam is one query parameter a queue may be filtered by: how it
// is documented and how it is read into the office's filter.
type filterParam struct {
	param
	set    func(f *office.Filter, v string) error
	schema *openapi3.Schema // what the document says of it; nil: by its name
}

// The document states each filter's rule (see queryParams).
func init() {
	for path, fs := range map[string][]filterParam{"/v1/alerts": alertFilter, "/v1/complaints": complaintFilter,
		"/v1/incidents": incidentFilter, "/v1/reviews": reviewFilter, "/v1/followups": followUpFilter,
		"/v1/escalations": escalationFilter} {
		for _, f := range fs {
			if f.schema != nil {
				queryParams[path+" "+f.name] = f.schema
			}
		}
	}
}

func boolParam(name, desc string, dst func(*office.Filter) *bool) filterParam {
	return filterParam{param{name, desc + " (true or false)", "boolean"}, func(f *office.Filter, v string) error {
		// What a boolean query parameter is to OpenAPI tools: strconv's.
		b, err := strconv.ParseBool(v)
		if err != nil {
			return schemas.FieldError(name, "%s must be true or false", name)
		}
		*dst(f) = b
		return nil
	}, nil}
}

func idParam(name, desc string, dst func(*office.Filter) *string) filterParam {
	return filterParam{param{name, desc, "string"}, func(f *office.Filter, v string) error {
		if !schemas.ValidID(v) {
			return schemas.FieldError(name, "%s must be an id", name)
		}
		*dst(f) = v
		return nil
	}, &openapi3.Schema{Type: &openapi3.Types{"string"}, Pattern: "^(" + uuidPattern[1:len(uuidPattern)-1] + ")?$", Description: "an id; empty: no filter"}}
}

func enumParam(name string, values []string, dst func(*office.Filter) *string) filterParam {
	return filterParam{param{name, "one of " + strings.Join(values, ", "), "string"}, func(f *office.Filter, v string) error {
		if !slices.Contains(values, v) {
			return schemas.FieldError(name, "%s must be one of %s", name, strings.Join(values, ", "))
		}
		*dst(f) = v
		return nil
	}, &openapi3.Schema{Type: &openapi3.Types{"string"}, Enum: toAny(append([]string{""}, values...))}}
}

func timeParam(name, desc string, dst func(*office.Filter) *time.Time) filterParam {
	return filterParam{param{name, "RFC 3339: " + desc, "string"}, func(f *office.Filter, v string) error {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return schemas.FieldError(name, "%s must be an RFC 3339 time", name)
		}
		*dst(f) = t
		return nil
	}, nil}
}

var alertKind = regexp.MustCompile(`^[a-z][a-z_]{0,63}$`)

// The filters of each queue: what a supervisor works from, where it applies
// to the records. Routes document them and the handlers read them from the
// same lists.
var (
	fOpen     = boolParam("open", "only those still open", func(f *office.Filter) *bool { return &f.Open })
	fWorker   = idParam("workerId", "only those of this worker", func(f *office.Filter) *string { return &f.WorkerID })
	fCustomer = idParam("customerId", "only those of this customer", func(f *office.Filter) *string { return &f.CustomerID })
	fVisit    = idParam("visitId", "only those about this visit", func(f *office.Filter) *string { return &f.VisitID })
	fFrom     = func(what string) filterParam {
		return timeParam("from", what+" at or after", func(f *office.Filter) *time.Time { return &f.From })
	}
	fTo = func(what string) filterParam {
		return timeParam("to", what+" before", func(f *office.Filter) *time.Time { return &f.To })
	}
	alertFilter = []filterParam{
		fOpen,
		{param{"kind", "only alerts of this kind (late, missed, complaint, incident, ...)", "string"}, func(f *office.Filter, v string) error {
			if !alertKind.MatchString(v) {
				return schemas.FieldError("kind", "kind must be an alert kind")
			}
			f.Kind = v
			return nil
		}, &openapi3.Schema{Type: &openapi3.Types{"string"}, Pattern: alertKind.String()}},
		enumParam("priority", []string{"normal", "high"}, func(f *office.Filter) *string { return &f.Priority }),
		fWorker, fVisit, fFrom("raised"), fTo("raised"),
	}
	complaintFilter = []filterParam{
		fOpen,
		boolParam("overdue", "only those not acknowledged by their answer due time, the most overdue first", func(f *office.Filter) *bool { return &f.Overdue }),
		boolParam("unanswered", "only remedies the customer has not answered for COMPLAINT_ANSWER_WAIT (they may be closed without the answer)", func(f *office.Filter) *bool { return &f.Unanswered }),
		enumParam("state", []string{schemas.ComplaintReceived, schemas.ComplaintAcknowledged, schemas.ComplaintInvestigating, schemas.ComplaintRemedyProposed,
			schemas.ComplaintAccepted, schemas.ComplaintClosed}, func(f *office.Filter) *string { return &f.State }),
		enumParam("category", schemas.ComplaintCategories, func(f *office.Filter) *string { return &f.Category }),
		fWorker, fCustomer, fVisit,
		idParam("ownerId", "only those this office user owns", func(f *office.Filter) *string { return &f.OwnerID }),
		fFrom("received"), fTo("received"),
	}
	incidentFilter = []filterParam{
		fOpen,
		enumParam("status", []string{schemas.IncidentOpen, schemas.IncidentAcknowledged, schemas.IncidentInvestigating, schemas.IncidentResolved},
			func(f *office.Filter) *string { return &f.State }),
		enumParam("category", fsync.IncidentCategories, func(f *office.Filter) *string { return &f.Category }),
		enumParam("severity", fsync.Severities, func(f *office.Filter) *string { return &f.Severity }),
		fWorker, fVisit, fFrom("reported"), fTo("reported"),
	}
	escalationFilter = []filterParam{
		fOpen,
		boolParam("overdue", "only open ones past their promised time", func(f *office.Filter) *bool { return &f.Overdue }),
		fWorker, fVisit,
	}
	reviewFilter   = []filterParam{fWorker, fCustomer, fFrom("visits starting"), fTo("visits starting")}
	followUpFilter = []filterParam{
		fOpen,
		boolParam("done", "only those done", func(f *office.Filter) *bool { return &f.Done }),
		boolParam("overdue", "only open ones past their latest time (a week after sign-off or closing)", func(f *office.Filter) *bool { return &f.Overdue }),
		fWorker, fCustomer, fVisit, fFrom("due"), fTo("due"),
	}
)

// queueParams documents a queue's filters and its paging.
func queueParams(fs []filterParam, page []param) []param {
	var out []param
	for _, f := range fs {
		out = append(out, f.param)
	}
	return append(out, page...)
}

// queuePage reads a queue's page and filters from the query: a value that
// is not of its kind is a 400 naming the parameter.
func queuePage(c *fiber.Ctx, fs []filterParam) (office.Page, error) {
	p, err := casePage(c)
	if err != nil {
		return p, err
	}
	for _, f := range fs {
		if v := c.Query(f.name); v != "" {
			if err := f.set(&p.Filter, v); err != nil {
				return p, err
			}
		}
	}
	if !p.Filter.From.IsZero() && !p.Filter.To.IsZero() && !p.Filter.From.Before(p.Filter.To) {
		return p, schemas.FieldError("to", "to must be after from")
	}
	if p.Filter.Done && (p.Filter.Open || p.Filter.Overdue) {
		return p, schemas.FieldError("done", "done goes with neither open nor overdue")
	}
	return p, nil
}
