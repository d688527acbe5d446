package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"github.com/gofiber/fiber/v2"
)

// The OpenAPI document is built, not written: kin-openapi's openapi3gen
// makes a named component schema of every Go type the route table names
// (routes.go), following the json tags; openapi_rules.go adds what the
// types cannot say (enums, formats, patterns, lengths, ranges, the
// operation kinds of a push, errors, headers, examples). A route added to
// the table is documented with nothing else to do.

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openAPIPath turns /v1/users/:id into /v1/users/{id}.
func openAPIPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

// Document builds the OpenAPI 3.0 description of every route.
func (a *API) Document() *openapi3.T {
	b := newDocBuilder()
	b.operationKinds()
	for _, r := range a.routes() {
		if r.body != nil {
			collectTypes(reflect.TypeOf(r.body), b.inputs)
		}
	}
	for _, r := range a.routes() {
		b.route(r)
	}
	b.finish()
	return b.doc
}

var (
	docOnce sync.Once
	docJSON []byte
	docErr  error
)

// OpenAPIJSON is the document as served at /openapi.json, built from the
// route table alone: no store, no configuration.
func OpenAPIJSON() ([]byte, error) {
	docOnce.Do(func() { docJSON, docErr = json.MarshalIndent((&API{}).Document(), "", "  ") })
	return docJSON, docErr
}

func (a *API) openapi(c *fiber.Ctx) error {
	b, err := OpenAPIJSON()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(b)
}

// views documents a response whose shape is the caller's role's view
// (server/office/views.go): one of these.
type views []any

// pageOfViews documents a page of such responses.
type pageOfViews []any

type docBuilder struct {
	doc    *openapi3.T
	gen    *openapi3gen.Generator
	names  map[string]reflect.Type // component name -> the Go type it describes
	inputs map[reflect.Type]bool   // types request bodies are made of
}

func newDocBuilder() *docBuilder {
	b := &docBuilder{names: map[string]reflect.Type{}, inputs: map[reflect.Type]bool{}}
	b.doc = &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{
			Title:   "fieldsync",
			Version: "1",
			Description: "Backend of a mobile-first field app for home services: office data, offline sync, push.\n\n" +
				"Clients ignore response fields they do not know: fields are only ever added to views. " +
				"Request bodies are strict: an unknown field is a 400 (except inside a sync operation's payload, see Op).",
			License: &openapi3.License{Name: "Proprietary", URL: "https://example.invalid/fieldsync/license"},
		},
		Servers: openapi3.Servers{{URL: "/", Description: "the fieldsync instance that serves this document"}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:   openapi3.Schemas{},
			Responses: openapi3.ResponseBodies{},
			Headers:   openapi3.Headers{},
			SecuritySchemes: openapi3.SecuritySchemes{"bearer": &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
				Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: "the accessToken of POST /v1/auth/login or /v1/auth/refresh"}}},
		},
	}
	b.gen = openapi3gen.NewGenerator(
		openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{ExportComponentSchemas: true, ExportTopLevelSchema: true}),
		openapi3gen.CreateTypeNameGenerator(b.typeName),
		openapi3gen.UseAllExportedFields(), // untagged fields are sent under their Go name
		openapi3gen.SchemaCustomizer(b.customize),
	)
	b.headers()
	b.errorResponses()
	return b
}

// typeName names a Go type's component: its own name, or its package's
// and its own when another package has a type of that name.
func (b *docBuilder) typeName(t reflect.Type) string {
	name := t.Name()
	if renamed, ok := componentNames[name]; ok {
		name = renamed
	}
	if prev, ok := b.names[name]; ok && prev != t {
		pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
		name = strings.ToUpper(pkg[:1]) + pkg[1:] + name
	}
	b.names[name] = t
	return name
}

// schema is the schema of a Go value's type: a $ref to its component for a
// struct, inline otherwise.
func (b *docBuilder) schema(v any) *openapi3.SchemaRef {
	ref, err := b.gen.NewSchemaRefForValue(v, b.doc.Components.Schemas)
	if err != nil {
		panic(fmt.Sprintf("openapi: schema of %T: %v", v, err)) // a type the generator cannot describe is a programming error
	}
	return ref
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
)

// customize is called by the generator for every schema it makes: a struct
// gets its required fields and refuses unknown ones; named types and
// fields get their rules (openapi_rules.go).
func (b *docBuilder) customize(name string, t reflect.Type, tag reflect.StructTag, s *openapi3.Schema) error {
	if enum, ok := typeEnums[t]; ok {
		s.Enum = enum
		s.Extensions = map[string]any{extEnumType: b.typeName(t)} // hoisted to a component by finish
	}
	if f, ok := typeFormats[t]; ok {
		f(s)
	}
	if t.Kind() == reflect.Interface {
		*s = *anyValue()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return nil
	}
	if custom, ok := structSchemas[t]; ok {
		custom(b, s)
		return nil
	}
	if s.Properties == nil {
		s.Type = &openapi3.Types{"object"}
		s.Properties = openapi3.Schemas{}
	}
	s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	required, nullable := fieldsOf(t)
	s.Required = required
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.Properties {
			if !yield(k) {
				return
			}
		}
	}) {
		ref := s.Properties[p]
		isComponent := strings.HasPrefix(ref.Ref, "#/")
		if isComponent && nullable[p] {
			// A nil pointer to a struct is sent as null.
			s.Properties[p] = &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"object"}, Nullable: true, AllOf: openapi3.SchemaRefs{ref}}}
			continue
		}
		if ref.Value != nil && !isComponent {
			if b.inputs[t] && ref.Value.Type.Is("array") && slices.Contains(required, p) {
				ref.Value.Nullable = true // a request's list may be null: none
			}
			applyFieldRules(b.typeName(t), p, ref.Value)
		}
	}
	if d, ok := descriptions[b.typeName(t)]; ok {
		s.Description = d
	}
	return nil
}

// fieldsOf lists the JSON fields of struct t that are always present
// (neither omitempty, nor a pointer, nor tagged doc:"optional"), and
// those that are pointers sent as null when nil, following embedded
// structs as encoding/json does.
func fieldsOf(t reflect.Type) (required []string, nullable map[string]bool) {
	nullable = map[string]bool{}
	seen := map[string]bool{}
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, depth+1)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
			if depth == 0 || !seen[name] { // an outer field shadows an embedded one
				delete(nullable, name)
				required = slices.DeleteFunc(required, func(s string) bool { return s == name })
				if f.Type.Kind() == reflect.Pointer && !omit {
					nullable[name] = true
				}
				if !omit && f.Type.Kind() != reflect.Pointer && f.Tag.Get("doc") != "optional" {
					required = append(required, name)
				}
			}
			seen[name] = true
		}
	}
	walk(t, 0)
	slices.Sort(required)
	return required, nullable
}

func (b *docBuilder) responseSchema(resp any) *openapi3.SchemaRef {
	switch r := resp.(type) {
	case views:
		var alts openapi3.SchemaRefs
		for _, v := range r {
			alts = append(alts, b.schema(v))
		}
		return &openapi3.SchemaRef{Value: &openapi3.Schema{OneOf: alts, Description: "the caller's role's view of the record"}}
	case pageOfViews:
		return &openapi3.SchemaRef{Value: &openapi3.Schema{
			Type: &openapi3.Types{"object"}, Required: []string{"items"},
			AdditionalProperties: openapi3.AdditionalProperties{Has: openapi3.Ptr(false)},
			Properties: openapi3.Schemas{
				"items":      {Value: &openapi3.Schema{Type: &openapi3.Types{"array"}, Items: b.responseSchema(views(r))}},
				"nextCursor": {Value: &openapi3.Schema{Type: &openapi3.Types{"string"}, Description: "pass as ?after= for the next page; absent on the last page"}},
			},
		}}
	}
	return b.schema(resp)
}

// route documents one route of the table.
func (b *docBuilder) route(r route) {
	p := openAPIPath(r.path)
	opID := operationID(r.method, r.path)
	op := &openapi3.Operation{
		Summary:     r.summary,
		Tags:        []string{r.tag},
		OperationID: opID,
		Responses:   openapi3.NewResponses(),
	}
	op.Responses.Delete("default")
	if len(r.roles) > 0 {
		var names []string
		for _, role := range r.roles {
			names = append(names, string(role))
		}
		op.Description = "Roles: " + strings.Join(names, ", ") + "."
	}
	for _, m := range fiberParam.FindAllStringSubmatch(r.path, -1) {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: pathParam(m[1])})
	}
	for _, q := range r.query {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: queryParam(r.path, q)})
	}
	for _, h := range requestHeaders[r.method+" "+r.path] {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: h})
	}
	if r.rawBody != "" {
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
			WithContent(openapi3.Content{r.rawBody: {Schema: &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"string"}, Format: "binary"}}}})}
	}
	if r.body != nil {
		s := b.schema(r.body)
		mt := &openapi3.MediaType{Schema: s}
		if ex, ok := requestExamples[opID]; ok {
			mt.Examples = openapi3.Examples{"example": {Value: openapi3.NewExample(ex)}}
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(!optionalBodies[r.method+" "+r.path]).
			WithContent(openapi3.Content{"application/json": mt})}
		if r.method == "PUT" { // a PUT names every field
			if c := b.doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]; c != nil {
				c.Value.Required = slices.Sorted(maps.Keys(c.Value.Properties))
			}
		}
	}
	ok := &openapi3.Response{Description: openapi3.Ptr("success"), Headers: b.responseHeaders(r.method + " " + r.path)}
	if r.resp != nil {
		mt := &openapi3.MediaType{Schema: b.responseSchema(r.resp)}
		if ex, found := responseExamples[opID]; found {
			mt.Examples = openapi3.Examples{"example": {Value: openapi3.NewExample(ex)}}
		}
		ok.Content = openapi3.Content{"application/json": mt}
	}
	if c, found := extraContent[r.method+" "+r.path]; found {
		if ok.Content == nil {
			ok.Content = openapi3.Content{}
		}
		for ct, s := range c {
			ok.Content[ct] = &openapi3.MediaType{Schema: &openapi3.SchemaRef{Value: s}}
		}
	}
	op.Responses.Set(strconv.Itoa(r.status), &openapi3.ResponseRef{Value: ok})
	if other, found := otherSuccess[r.method+" "+r.path]; found {
		op.Responses.Set(strconv.Itoa(other), &openapi3.ResponseRef{Value: ok})
	}
	for _, status := range errorStatuses(r) {
		op.Responses.Set(strconv.Itoa(status), &openapi3.ResponseRef{Ref: "#/components/responses/" + errorResponseName[status]})
	}
	op.Responses.Set("default", &openapi3.ResponseRef{Ref: "#/components/responses/ErrorInternal"})
	if r.public {
		op.Security = &openapi3.SecurityRequirements{} // security: [] — no token
	} else {
		op.Security = &openapi3.SecurityRequirements{{"bearer": []string{}}}
	}
	item := b.doc.Paths.Value(p)
	if item == nil {
		item = &openapi3.PathItem{}
		b.doc.Paths.Set(p, item)
	}
	item.SetOperation(r.method, op)
}

// errorStatuses are the 4xx and 5xx a route can answer, from what it takes
// and who may call it.
func errorStatuses(r route) []int {
	var out []int
	hasPath := strings.Contains(r.path, ":")
	if r.body != nil || r.rawBody != "" || len(r.query) > 0 || hasPath || r.method == "POST" {
		out = append(out, http.StatusBadRequest)
	}
	if !r.public || strings.HasPrefix(r.path, "/v1/auth/") {
		out = append(out, http.StatusUnauthorized)
	}
	if !r.public {
		out = append(out, http.StatusForbidden)
	}
	if hasPath || !r.public {
		out = append(out, http.StatusNotFound)
	}
	if !r.public || r.method == "POST" && strings.HasPrefix(r.path, "/v1/auth/") {
		out = append(out, http.StatusConflict)
	}
	if r.body != nil || r.rawBody != "" {
		out = append(out, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	if r.path == "/v1/sync/push" {
		out = append(out, http.StatusUpgradeRequired)
	}
	if !r.public || strings.HasPrefix(r.path, "/v1/auth/") {
		out = append(out, http.StatusTooManyRequests)
	}
	if r.path != "/healthz" && r.path != "/openapi.json" {
		out = append(out, http.StatusServiceUnavailable)
	}
	return out
}

// extEnumType marks, while the document is built, a schema that is a
// named Go enum type: finish makes it a component of that name.
const extEnumType = "x-fieldsync-enum"

func (b *docBuilder) finish() {
	b.hoistEnums()
	b.dropUnused()
	tags := map[string]bool{}
	for _, item := range b.doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, t := range op.Tags {
				tags[t] = true
			}
		}
	}
	for _, t := range slices.Sorted(func(yield func(string) bool) {
		for k := range tags {
			if !yield(k) {
				return
			}
		}
	}) {
		b.doc.Tags = append(b.doc.Tags, &openapi3.Tag{Name: t, Description: tagDescriptions[t]})
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

// collectTypes adds t and the struct types it is made of to set.
func collectTypes(t reflect.Type, set map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || set[t] {
		return
	}
	set[t] = true
	for i := 0; i < t.NumField(); i++ {
		collectTypes(t.Field(i).Type, set)
	}
}

// anyValue is the schema of an `any`: any JSON value, null included
// (OpenAPI 3.0 has no null type; a nullable string stands for it).
func anyValue() *openapi3.Schema {
	of := func(t string) *openapi3.SchemaRef {
		s := &openapi3.Schema{Type: &openapi3.Types{t}}
		if t == "array" {
			s.Items = &openapi3.SchemaRef{Value: &openapi3.Schema{}}
		}
		return &openapi3.SchemaRef{Value: s}
	}
	str := of("string")
	str.Value.Nullable = true
	return &openapi3.Schema{Description: "any JSON value, null included", AnyOf: openapi3.SchemaRefs{str, of("number"), of("boolean"), of("object"), of("array")}}
}

var schemaRefRE = regexp.MustCompile(`"#/components/schemas/([^"]+)"`)

// dropUnused removes the components nothing refers to: the generator
// makes some for types only seen embedded or shadowed (Redocly warns on
// unused components).
func (b *docBuilder) dropUnused() {
	comps := b.doc.Components.Schemas
	b.doc.Components.Schemas = nil
	root, _ := json.Marshal(b.doc)
	b.doc.Components.Schemas = comps
	refs := func(j []byte) (out []string) {
		for _, m := range schemaRefRE.FindAllSubmatch(j, -1) {
			out = append(out, string(m[1]))
		}
		return out
	}
	used := map[string]bool{}
	for queue := refs(root); len(queue) > 0; queue = queue[1:] {
		if n := queue[0]; !used[n] {
			used[n] = true
			j, _ := json.Marshal(comps[n])
			queue = append(queue, refs(j)...)
		}
	}
	for n := range comps {
		if !used[n] {
			delete(comps, n)
		}
	}
}

// hoistEnums replaces each use of a named enum type (Role, VisitStatus,
// ...) by a $ref to one component, so generated clients have one type
// for it rather than one per field.
func (b *docBuilder) hoistEnums() {
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || strings.HasPrefix(ref.Ref, "#/") {
			return
		}
		s := ref.Value
		if name, ok := s.Extensions[extEnumType].(string); ok {
			delete(s.Extensions, extEnumType)
			if len(s.Extensions) == 0 {
				s.Extensions = nil
			}
			if !slices.Equal(s.Enum, typeEnums[b.names[name]]) {
				return // a field's own set (an input that also takes "")
			}
			if _, done := b.doc.Components.Schemas[name]; !done {
				b.doc.Components.Schemas[name] = &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"string"}, Enum: s.Enum}}
			}
			ref.Ref = "#/components/schemas/" + name
			return
		}
		if seen[s] {
			return
		}
		seen[s] = true
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, group := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
			for _, r := range group {
				walk(r)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.doc.Components.Schemas)) {
		walk(b.doc.Components.Schemas[name])
	}
	for _, item := range b.doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				walk(p.Value.Schema)
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, r := range op.Responses.Map() {
				if r.Value != nil {
					for _, mt := range r.Value.Content {
						walk(mt.Schema)
					}
				}
			}
		}
	}
}
