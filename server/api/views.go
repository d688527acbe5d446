package api

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/server/office"
	fsync "fieldsync/sync"
)

// reply answers with v as the caller's role may see it. The office's, the
// sync engine's and the customers' endpoints answer through here, reads
// and writes alike, so a record is always shown through its view
// (server/office/views.go). A type with no view here is an internal error,
// never sent as it is.
func (a *API) reply(c *fiber.Ctx, status int, v any) error {
	out, err := a.view(c, v)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(out)
}

// replyPage answers with a page whose items are each shown through the
// caller's view.
func replyPage[T any](a *API, c *fiber.Ctx, p schemas.Page[T]) error {
	items := make([]any, len(p.Items))
	for i := range p.Items {
		v, err := a.view(c, &p.Items[i])
		if err != nil {
			return err
		}
		items[i] = v
	}
	return c.JSON(schemas.Page[any]{Items: items, NextCursor: p.NextCursor})
}

// PullView is a pull as the worker's phone sees it: its visits and
// incidents in the worker's views (the rest is the engine's envelope).
type PullView struct {
	*fsync.PullResponse
	Visits    []*office.WorkerVisit    `json:"visits"`
	Incidents []*office.WorkerIncident `json:"incidents"`
}

// SignOffView is a customer's sign-off result with the visit in the
// customer's view.
type SignOffView struct {
	*fsync.SignOffResult
	Visit *office.CustomerVisit `json:"visit"`
}

// view picks the view of v for the caller, with every array it carries
// [] rather than null (a record just made or changed carries nil slices
// the store's reads fill in; clients must see the same shape both ways).
func (a *API) view(c *fiber.Ctx, v any) (any, error) {
	out, err := a.viewOf(c, v)
	if err == nil {
		emptySlices(reflect.ValueOf(out))
	}
	return out, err
}

// emptySlices sets the nil slices reachable from v through pointers,
// structs, slices and interfaces to empty ones, but those a field's
// omitempty leaves out anyway. Maps are left as they are.
func emptySlices(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			emptySlices(v.Elem())
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Slice && fv.IsNil() {
				if _, opts, _ := strings.Cut(f.Tag.Get("json"), ","); !strings.Contains(opts, "omitempty") && fv.CanSet() {
					fv.Set(reflect.MakeSlice(fv.Type(), 0, 0))
				}
				continue
			}
			emptySlices(fv)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // []byte is a string in JSON
		}
		for i := range v.Len() {
			emptySlices(v.Index(i))
		}
	}
}

// viewOf picks the view of v for the caller.
func (a *API) viewOf(c *fiber.Ctx, v any) (any, error) {
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		v = p.Interface()
	}
	ctx, act := c.UserContext(), actor(c)
	switch r := v.(type) {
	case *schemas.Visit:
		return a.office.ViewVisit(ctx, act, r)
	case *office.VisitView:
		return a.office.ViewVisit(ctx, act, &r.Visit)
	case *schemas.Customer:
		return office.ViewCustomer(act, r)
	case *schemas.Worker:
		return office.ViewWorker(act, r)
	case *schemas.Complaint:
		return office.ViewComplaint(act, r)
	case *schemas.Incident:
		return office.ViewIncident(act, r)
	case *schemas.Escalation:
		return office.ViewEscalation(act, r)
	case *fsync.SignOffResult:
		out := &SignOffView{SignOffResult: r}
		if r.Visit != nil {
			vv, err := a.office.ViewVisit(ctx, act, r.Visit)
			if err != nil {
				return nil, err
			}
			if out.Visit, _ = vv.(*office.CustomerVisit); out.Visit == nil {
				return nil, fmt.Errorf("sign-off: a visit not in the customer's view (%T)", vv)
			}
		}
		return out, nil
	case *fsync.PullResponse:
		out := &PullView{PullResponse: r, Visits: make([]*office.WorkerVisit, len(r.Visits)), Incidents: make([]*office.WorkerIncident, len(r.Incidents))}
		for i, x := range r.Visits {
			if out.Visits[i], _ = x.(*office.WorkerVisit); out.Visits[i] == nil {
				return nil, fmt.Errorf("pull: a visit not in the worker's view (%T)", x)
			}
		}
		for i := range r.Incidents {
			vi, err := office.ViewIncident(act, &r.Incidents[i])
			if err != nil {
				return nil, err
			}
			if out.Incidents[i], _ = vi.(*office.WorkerIncident); out.Incidents[i] == nil {
				return nil, fmt.Errorf("pull: an incident not in the worker's view (%T)", vi)
			}
		}
		return out, nil

	// Records only the office sees: whole, and never to anyone else (the
	// route table admits office roles only; this says so again).
	case *schemas.Alert, *schemas.FollowUp, *schemas.Schedule, *office.ScheduleView, *office.ReflowResult, *office.Candidate,
		*office.MonthlyFigures, *office.QuarterlyReview, *office.Breakdowns, *office.Trends, *schemas.AuditEntry, *fsync.Device, *push.Notification:
		return office.OfficeOnly(act, v)

	// The same for every role the route admits: the catalog (signed-in
	// users), a phone's own push results and sync state, a visit's
	// presence secret (its customer), a household's channel preference, a message thread (its customer).
	case *schemas.ServiceType, *fsync.PushResponse, *PresenceSecret, *fsync.DeviceState, *office.NotificationChannel, *schemas.MessageThread:
		return v, nil
	}
	return nil, fmt.Errorf("no view of %T for role %s", v, act.Role)
}
