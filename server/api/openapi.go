package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openAPIPath turns /v1/users/:id into /v1/users/{id}.
func openAPIPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

// Document builds the OpenAPI 3 description of every route.
func (a *API) Document() map[string]any {
	paths := map[string]any{}
	for _, r := range a.routes() {
		p := openAPIPath(r.path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{
			"summary":     r.summary,
			"tags":        []string{r.tag},
			"operationId": operationID(r.method, r.path),
		}
		var params []any
		for _, m := range fiberParam.FindAllStringSubmatch(r.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]any{"type": q.typ}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.rawBody != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				r.rawBody: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}},
			}}
		}
		if r.body != nil {
			s := schemaOf(reflect.TypeOf(r.body))
			if r.method == "PUT" {
				s["required"] = slices.Sorted(maps.Keys(s["properties"].(map[string]any))) // a PUT names every field
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": s},
			}}
		}
		responses := map[string]any{}
		ok := map[string]any{"description": "success"}
		if r.resp != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": responseSchema(r.resp)}}
		}
		responses[strconv.Itoa(r.status)] = ok
		responses["default"] = map[string]any{"$ref": "#/components/responses/Error"}
		op["responses"] = responses
		if !r.public {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		item[strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "fieldsync",
			"version":     "1",
			"description": "Backend of a mobile-first field app for home services: office data, offline sync, push.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
			"responses": map[string]any{"Error": map[string]any{
				"description": "Any error: a machine code, a human message, optional details.",
				"content":     map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(ErrorBody{}))}},
			}},
		},
	}
}

var (
	docOnce sync.Once
	docJSON map[string]any
)

func (a *API) openapi(c *fiber.Ctx) error {
	docOnce.Do(func() { docJSON = a.Document() })
	return c.JSON(docJSON)
}

// views documents a response whose shape is the caller's role's view
// (server/office/views.go): one of these.
type views []any

// pageOfViews documents a page of such responses.
type pageOfViews []any

func responseSchema(resp any) map[string]any {
	switch r := resp.(type) {
	case views:
		var alts []any
		for _, v := range r {
			alts = append(alts, schemaOf(reflect.TypeOf(v)))
		}
		return map[string]any{"oneOf": alts, "description": "the caller's role's view of the record"}
	case pageOfViews:
		return map[string]any{"type": "object", "additionalProperties": false, "required": []string{"items"}, "properties": map[string]any{
			"items": map[string]any{"type": "array", "items": responseSchema(views(r))}, "nextCursor": map[string]any{"type": "string"}}}
	}
	return schemaOf(reflect.TypeOf(resp))
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
)

// schemaOf describes a Go type as a JSON Schema (the OpenAPI 3.0 subset),
// following the json tags, so the document cannot drift from the types.
func schemaOf(t reflect.Type) map[string]any {
	return schemaSeen(t, map[reflect.Type]bool{})
}

func schemaSeen(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawJSONType {
		return map[string]any{"type": "object", "description": "kind-specific; see the kind's payload"}
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaSeen(t.Elem(), seen)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": true}
	case reflect.Struct:
		if seen[t] {
			return map[string]any{"type": "object"}
		}
		seen[t] = true
		defer delete(seen, t)
		props := map[string]any{}
		var required []string
		addStructFields(t, props, &required, seen)
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

func addStructFields(t reflect.Type, props map[string]any, required *[]string, seen map[reflect.Type]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addStructFields(ft, props, required, seen)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		_, shadows := props[name] // an outer field shadowing an embedded one
		props[name] = schemaSeen(f.Type, seen)
		if !shadows && !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer && f.Tag.Get("doc") != "optional" {
			*required = append(*required, name)
		}
	}
}

// operationID is a camel-case id from the method and path:
// GET /v1/users/:id -> getV1UsersId.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, w := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == ':' || r == '.' || r == '-' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// OpenAPIJSON is the document as served at /openapi.json, built from the
// route table alone: no store, no configuration.
func OpenAPIJSON() ([]byte, error) {
	return json.MarshalIndent((&API{}).Document(), "", "  ")
}
