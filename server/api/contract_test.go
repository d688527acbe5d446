package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"fieldsync/server/api"
	fsync "fieldsync/sync"
)

// The contract is checked, not trusted: every request the suite sends
// through fixture.do and every answer is validated against the OpenAPI
// document (openapi3filter). A test fails when
//   - an answer is off its schema, or its status is not documented for
//     the operation;
//   - the server accepts (2xx) a request the document refuses: the
//     document states a rule the server does not apply; or
//   - the server refuses with 400 invalid a request the document accepts,
//     naming a field: the server applies a rule the document does not
//     state (contractGap).
// A push is the exception to the second: an operation the document
// refuses is answered in its result (rejected), not by refusing the batch.

var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func loadContract() (*openapi3.T, routers.Router, error) {
	contract.once.Do(func() {
		b, err := api.OpenAPIJSON()
		if err != nil {
			contract.err = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(b)
		if err != nil {
			contract.err = fmt.Errorf("load: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contract.err = fmt.Errorf("the document is not valid OpenAPI: %w", err)
			return
		}
		doc.Servers = nil // match requests to any host
		contract.doc = doc
		contract.router, contract.err = legacy.NewRouter(doc)
		for _, ct := range append([]string{"application/offset+octet-stream"}, fsync.AttachmentTypes...) {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
	})
	return contract.doc, contract.router, contract.err
}

// checkContract validates one exchange of fixture.do.
func (f *fixture) checkContract(method, target string, reqHeader http.Header, reqBody []byte, status int, respHeader http.Header, respBody []byte) {
	f.t.Helper()
	if os.Getenv("FIELDSYNC_NO_CONTRACT") != "" {
		return
	}
	_, router, err := loadContract()
	if err != nil {
		f.t.Fatalf("contract: %v", err)
	}
	req := httptest.NewRequest(method, target, bytes.NewReader(reqBody))
	req.Header = reqHeader.Clone()
	route, params, err := router.FindRoute(req)
	if err != nil {
		// A path or method the document does not have: the server must
		// not serve it (HEAD of a GET route is Fiber's own).
		if status < 400 && method != http.MethodHead {
			f.t.Errorf("contract: %s %s answered %d but is not in the document", method, target, status)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	label := fmt.Sprintf("%s %s", method, route.Path)
	if reqErr != nil && status < 400 && !pushAnsweredInResults(route.Path, status, respBody) && !lenientParam(label, reqErr) {
		f.t.Errorf("contract: %s answered %d to a request the document refuses: %v\nrequest: %.400s", label, status, oneLine(reqErr), reqBody)
	}
	if reqErr == nil && status == http.StatusBadRequest {
		if field := badField(respBody); field != "" {
			contractGap(f.t, label, field, respBody, reqBody)
		}
	}
	if route.Operation.Responses.Status(status) == nil && status != http.StatusInternalServerError {
		f.t.Errorf("contract: %s answered %d, which the document does not list for it: %.300s", label, status, respBody)
		return
	}
	in.Request = httptest.NewRequest(method, target, nil) // the body was read
	in.Request.Header = reqHeader.Clone()
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: respHeader,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if method == http.MethodHead {
		out.Options.ExcludeResponseBody = true
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		f.t.Errorf("contract: %s answered %d off its schema: %v\nresponse: %.600s", label, status, oneLine(err), respBody)
	}
	for _, h := range []string{"X-Request-Id"} {
		if respHeader.Get(h) == "" {
			f.t.Errorf("contract: %s answered %d without %s", label, status, h)
		}
	}
}

func lenientParam(label string, err error) bool {
	var re *openapi3filter.RequestError
	return errors.As(err, &re) && re.Parameter != nil && lenient[label+" "+re.Parameter.Name]
}

// pushAnsweredInResults: a push whose batch the document refuses only for
// an operation in it is answered 200 with that operation rejected.
func pushAnsweredInResults(path string, status int, body []byte) bool {
	if path != "/v1/sync/push" || status != http.StatusOK {
		return false
	}
	var resp struct {
		Results []struct{ Status, Code string } `json:"results"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return false
	}
	for _, r := range resp.Results {
		if r.Status == fsync.StatusRejected || r.Status == fsync.StatusSkipped {
			return true
		}
		// Sent again, a refused operation answers duplicate with its code.
		if r.Status == fsync.StatusDuplicate && slices.Contains(fsync.RejectCodes, r.Code) {
			return true
		}
	}
	return false
}

// badField is the field a 400 names, if it names one.
func badField(body []byte) string {
	var eb api.ErrorBody
	if json.Unmarshal(body, &eb) != nil {
		return ""
	}
	field, _ := eb.Error.Details["field"].(string)
	return field
}

// contractGap reports a request the document accepts and the server
// refuses naming a field: a rule the document does not state. Business
// rules that no schema can say (an end before a start, a state that does
// not allow it) are listed in stateRules.
func contractGap(t *testing.T, label, field string, respBody, reqBody []byte) {
	t.Helper()
	var eb api.ErrorBody
	_ = json.Unmarshal(respBody, &eb)
	for _, r := range stateRules {
		if strings.Contains(eb.Error.Message, r) {
			return
		}
	}
	t.Errorf("contract: %s refused with 400 on %s a request the document accepts (%s): state the rule in the document, or list it in stateRules\nrequest: %.300s",
		label, field, eb.Error.Message, reqBody)
}

// stateRules are 400s no schema can state: they depend on other fields or
// on stored state. Each is a fragment of the server's message.
var stateRules = []string{
	"is not a cursor this server issued", // a cursor is opaque: only the server's own are accepted
	"visitId or userId is required",      // one of two parameters
	"appears twice",                      // a repeated key: JSON Schema sees the last one only
	"field names may not start with $",   // operator keys in a payload: OpenAPI 3.0 cannot restrict key names
	"is not the device this session",     // the session's own device
	"does not name",                      // a reference to a record the caller may not use
	"cannot be in the past",              // relative to the server's clock
	"say how it was resolved",            // required when the action is resolve
	"say why when the reason is other",   // required with reasonCode other
	"a remedy of kind",                   // required when the action is propose
	"is required",                        // required by another field's value (a manual check-in's reason, ...)
	"must be after",                      // to after from: two parameters
	"goes with neither",                  // done excludes open and overdue
	"rootCause must be one of",           // required when the action is close
	"must name an active",                // the owner must be an active office user of the team
	"is another team's",                  // a record of another team
	"ownerId must be an id",              // required when the action is assign
	"say why it is closed",               // a note, required when closing without the customer's answer
	"months after from",                  // a range of at most 24 months: two parameters
	"the office records the household's", // a scope answer's note: required from the office, by the caller's role
}

// lenient are parameters the document closes (an enum) while the server
// takes any value as a filter that matches nothing.
var lenient = map[string]bool{"GET /v1/workers status": true}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " | ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

// inlinedDocument is the document as JSON with every schema $ref replaced
// by its component (a cycle is cut at its second visit), for tests that
// walk request bodies.
func inlinedDocument(t *testing.T) []byte {
	t.Helper()
	b, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	comps := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var inline func(v any, seen map[string]bool) any
	inline = func(v any, seen map[string]bool) any {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && strings.HasPrefix(ref, "#/components/schemas/") {
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				if seen[name] {
					return map[string]any{}
				}
				seen[name] = true
				defer delete(seen, name)
				return inline(comps[name], seen)
			}
			out := map[string]any{}
			for k, e := range x {
				if k == "discriminator" {
					out[k] = e
					continue
				}
				out[k] = inline(e, seen)
			}
			// A nullable wrapper ({nullable, allOf: [s]}) is s.
			if all, ok := out["allOf"].([]any); ok && len(all) == 1 && len(out) <= 3 {
				return all[0]
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = inline(e, seen)
			}
			return out
		}
		return v
	}
	out, err := json.Marshal(map[string]any{"openapi": doc["openapi"], "paths": inline(doc["paths"], map[string]bool{})})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocumentStatesTheRules: the rules the server applied without saying
// (issue 14: 24% of requests valid by the old document were refused) are
// in the document now: each of these requests is refused by the document
// and by the server.
func TestDocumentStatesTheRules(t *testing.T) {
	w := newWorld(t)
	f := w.f
	_, router, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	push := func(op map[string]any) map[string]any {
		op0 := map[string]any{"seq": 1, "opId": "0192d6a4-0000-7000-8000-000000000001", "kind": "note", "visitId": w.v1.ID,
			"at": f.clock.Now().UTC().Format(time.RFC3339), "payload": map[string]any{"text": "ok"}}
		for k, v := range op {
			op0[k] = v
		}
		return map[string]any{"deviceId": "phone", "schemaVersion": fsync.SchemaVersion, "deviceClock": f.clock.Now().UTC().Format(time.RFC3339), "ops": []any{op0}}
	}
	seq := 0
	for _, c := range []struct {
		name, method, path string
		body               any
		token              string
		pushRejected       bool // a push answers in the operation's result
	}{
		{"limit below 1", "GET", "/v1/users?limit=0", nil, w.admin, false},
		{"limit above 200", "GET", "/v1/users?limit=201", nil, w.admin, false},
		{"day not a date", "GET", "/v1/visits?day=24.11.2037", nil, w.admin, false},
		{"from not a time", "GET", "/v1/visits?from=yesterday", nil, w.admin, false},
		{"workerId not an id", "GET", "/v1/sync/devices?workerId=w1", nil, w.admin, false},
		{"FCM token too short", "POST", "/v1/devices", map[string]any{"token": "short", "platform": "android"}, w.wk1, false},
		{"unknown platform", "POST", "/v1/devices", map[string]any{"token": strings.Repeat("t", 40), "platform": "windows"}, w.wk1, false},
		{"deviceId too long", "POST", "/v1/auth/login", map[string]any{"login": "x", "password": "y", "deviceId": strings.Repeat("d", 129)}, "", false},
		{"control character in a name", "POST", "/v1/users", map[string]any{"login": "new.user", "password": testPassword, "name": "a\x00b", "role": "worker"}, w.admin, false},
		{"name over its class", "POST", "/v1/users", map[string]any{"login": "new.user", "password": testPassword, "name": strings.Repeat("名", 101), "role": "worker"}, w.admin, false},
		{"unknown role", "POST", "/v1/users", map[string]any{"login": "new.user", "password": testPassword, "name": "N", "role": "owner"}, w.admin, false},
		{"push schemaVersion above the server's", "POST", "/v1/sync/push", func() any { b := push(nil); b["schemaVersion"] = fsync.SchemaVersion + 1; return b }(), w.wk1, false},
		{"opId not a UUID", "POST", "/v1/sync/push", push(map[string]any{"opId": "op-1"}), w.wk1, true},
		{"note without text", "POST", "/v1/sync/push", push(map[string]any{"payload": map[string]any{"text": "  "}}), w.wk1, true},
		{"rating out of range", "POST", "/v1/sync/push", push(map[string]any{"kind": "signOff", "payload": map[string]any{"signerName": "L",
			"items": []any{map[string]any{"itemId": "kitchen", "accepted": true}}, "rating": map[string]any{"attitude": 6, "quality": 5, "efficiency": 5, "price": 5}}}), w.wk1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			if c.pushRejected {
				// Each its own seq and opId: a refused operation still takes its seq.
				seq++
				op := c.body.(map[string]any)["ops"].([]any)[0].(map[string]any)
				op["seq"] = seq
				if op["opId"] == "0192d6a4-0000-7000-8000-000000000001" {
					op["opId"] = fmt.Sprintf("0192d6a4-0000-7000-8000-%012d", seq)
				}
			}
			var raw []byte
			if c.body != nil {
				raw, _ = json.Marshal(c.body)
			}
			req := httptest.NewRequest(c.method, c.path, bytes.NewReader(raw))
			if c.body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatal(err)
			}
			err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}})
			if err == nil {
				t.Errorf("the document accepts it")
			}
			r := f.do(c.method, c.path, c.body, c.token)
			if !c.pushRejected {
				r.wantError(400, "invalid")
				return
			}
			var resp fsync.PushResponse
			r.want(200).decode(&resp)
			if len(resp.Results) != 1 || resp.Results[0].Status != fsync.StatusRejected {
				t.Errorf("the server answers %s", r.body)
			}
		})
	}
	f.t = t
}
